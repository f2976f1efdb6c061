import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../tf.js';
import { initBackend } from '../backend.js';
import { Rng } from '../rng.js';
import { MM_SHAPES, denseLayerGradients, randn, relErr } from '../../testing/kernelCases.js';
import { registerWasmKernels } from './index.js';
import { batchMatMulWasm, matMulPlanCosts } from './batchMatMul.js';

const SHAPES = MM_SHAPES;

function product(aShape: number[], bShape: number[], av: Float32Array, bv: Float32Array, tA: boolean, tB: boolean) {
  return tf.tidy(() => {
    const out = tf.matMul(tf.tensor(av, aShape), tf.tensor(bv, bShape), tA, tB);
    return { shape: out.shape, values: out.dataSync() as Float32Array };
  });
}

describe('BatchMatMul on wasm (hemlock wrapper)', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  it('wraps the built-in kernel on wasm, idempotently', () => {
    registerWasmKernels();
    registerWasmKernels();
    expect(tf.getKernel('BatchMatMul', 'wasm')?.kernelFunc).toBe(batchMatMulWasm);
  });

  it('plans the cheaper arrangement', () => {
    // Measured winners (batchMatMul.ts): transposing A beats re-packing it.
    const c = matMulPlanCosts(128, 60000, 10, true, false); // W4's xᵀ·dy
    expect(c.direct).toBeLessThan(c.swapped);
    const d = matMulPlanCosts(288, 25088, 64, true, false); // conv dW colsᵀ·dy
    expect(d.direct).toBeLessThan(d.swapped);
    // Aᵀ·B with few rows and many columns: packing B would dominate; swap.
    const e = matMulPlanCosts(4, 5000, 5000, true, false);
    expect(e.swapped).toBeLessThan(e.direct);
  });

  for (const [i, [m, k, n]] of SHAPES.entries()) {
    for (const [tA, tB] of [[false, false], [true, false], [false, true], [true, true]] as const) {
      for (const rank3 of [false, true]) {
        it(`matches the cpu backend: M=${m} K=${k} N=${n} tA=${tA} tB=${tB}${rank3 ? ' (rank 3, batch 1)' : ''}`, async () => {
          const rng = new Rng(`bmm-${i}-${tA}-${tB}`);
          const a2 = tA ? [k, m] : [m, k];
          const b2 = tB ? [n, k] : [k, n];
          const aShape = rank3 ? [1, ...a2] : a2;
          const bShape = rank3 ? [1, ...b2] : b2;
          const av = randn(rng, m * k);
          const bv = randn(rng, k * n);
          await tf.setBackend('cpu');
          const want = product(aShape, bShape, av, bv, tA, tB);
          await tf.setBackend('wasm');
          const got = product(aShape, bShape, av, bv, tA, tB);
          expect(got.shape).toEqual(want.shape);
          expect(relErr(got.values, want.values)).toBeLessThan(1e-5);
        });
      }
    }
  }

  it('leaves batched products (batch > 1) to the built-in kernel, still correct', async () => {
    const rng = new Rng('bmm-batched');
    const av = randn(rng, 3 * 5 * 4);
    const bv = randn(rng, 3 * 6 * 4);
    await tf.setBackend('cpu');
    const want = product([3, 5, 4], [3, 6, 4], av, bv, false, true);
    await tf.setBackend('wasm');
    const got = product([3, 5, 4], [3, 6, 4], av, bv, false, true);
    expect(got.shape).toEqual([3, 5, 6]);
    expect(relErr(got.values, want.values)).toBeLessThan(1e-5);
  });

  it('gives the same dense-layer gradients as cpu, and leaks no tensors', async () => {
    const run = denseLayerGradients('bmm-grad');
    await tf.setBackend('cpu');
    const want = run();
    await tf.setBackend('wasm');
    const before = tf.memory().numTensors;
    const got = run();
    run();
    expect(tf.memory().numTensors).toBe(before);
    expect(relErr(got, want)).toBeLessThan(1e-5);
  });
});
