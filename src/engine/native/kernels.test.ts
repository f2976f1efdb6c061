/**
 * The native kernels against the cpu backend (float32 reference): BatchMatMul
 * (all transpose combinations, rank 2/3/4, batched and broadcast), Conv2D,
 * Conv2DBackpropInput, Conv2DBackpropFilter (odd sizes, batch 1, strides
 * 1/2/3, same/valid/numeric/explicit pads, dilation for the forward conv), on
 * 1 and 2 pool threads (the 2-thread runs exercise the M, N and K splits of
 * the GEMM and the per-image split of dx); gradients of a small conv net; no
 * tensor leaks. Skipped when the addon is not built or HEMLOCK_NATIVE=0; the
 * status test always runs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tf } from '../tf.js';
import { describeBackend, initBackend } from '../backend.js';
import { Rng } from '../rng.js';
import { loadNative, setNativeEnabled, setNativeThreads, wantedNativeThreads } from './loader.js';
import { nativeCalls } from './kernels.js';
import { MM_SHAPES as BASE_MM_SHAPES, SMALL_CONV_CASES, convCaseName as name, convNetSCases, convOutShape as outShape, filterShape, randn, relErr, size as count, type ConvCase, runConv2DBackpropInput, runConv2DBackpropFilter, denseLayerGradients } from '../../testing/kernelCases.js';

const status = loadNative();
const native = status.loaded;

/** Runs f on cpu, then on wasm; returns both flattened results and how many native calls the wasm run made. */
async function both(f: () => Float32Array, kernel: keyof typeof nativeCalls): Promise<{ want: Float32Array; got: Float32Array; calls: number }> {
  await tf.setBackend('cpu');
  const want = f();
  await tf.setBackend('wasm');
  const before = nativeCalls[kernel];
  const got = f();
  return { want, got, calls: nativeCalls[kernel] - before };
}

describe('native kernel status', () => {
  it('is reported in the backend info and the backend line', async () => {
    const info = await initBackend('wasm');
    expect(info.native).toBeDefined();
    expect(info.native!.active).toBe(native);
    if (info.native!.active) {
      expect(['avx512', 'avx2', 'generic']).toContain(info.native!.isa);
      expect(info.native!.threads).toBe(wantedNativeThreads());
      expect(describeBackend(info)).toMatch(new RegExp(`native ${info.native!.isa} kernels`));
    } else {
      expect(info.native!.reason.length).toBeGreaterThan(0);
      expect(describeBackend(info)).not.toMatch(/native \w+ kernels/);
    }
  });

  it('HEMLOCK_NATIVE=0 disables the addon without an error (fresh process, compiled loader)', () => {
    const loader = fileURLToPath(new URL('../../../dist/engine/native/loader.js', import.meta.url));
    if (!existsSync(loader)) return; // dist/ is built by the suite's global setup
    const out = execFileSync(
      process.execPath,
      ['--input-type=module', '-e', `import('${loader}').then((m) => console.log(JSON.stringify([m.loadNative(), m.nativeActive()])))`],
      { env: { ...process.env, HEMLOCK_NATIVE: '0' }, encoding: 'utf8' },
    );
    const [s, active] = JSON.parse(out.trim()) as [{ loaded: boolean; reason: string }, boolean];
    expect(s.loaded).toBe(false);
    expect(s.reason).toMatch(/HEMLOCK_NATIVE=0/);
    expect(active).toBe(false);
  });
});

// [M, K, N]: 1-sized dims, odd sizes, N < NR (the transposed-problem path),
// K > KC = 256 (several K blocks), M > MC (several M blocks), and shapes large
// enough for the parallel splits of M, N and K on 2 threads.
const MM_SHAPES: [number, number, number][] = [
  ...BASE_MM_SHAPES,
  [171, 300, 70],
  [300, 64, 300],
  [20, 3000, 40],
  [40, 70, 200],
];

function matmulRun(aShape: number[], bShape: number[], av: Float32Array, bv: Float32Array, tA: boolean, tB: boolean) {
  return () =>
    tf.tidy(() => {
      const out = tf.matMul(tf.tensor(av, aShape), tf.tensor(bv, bShape), tA, tB);
      return out.dataSync() as Float32Array;
    });
}

for (const threads of [1, 2]) {
  describe.skipIf(!native)(`native kernels, ${threads} thread${threads > 1 ? 's' : ''}`, () => {
    beforeAll(async () => {
      await initBackend('wasm');
      setNativeEnabled(true);
      setNativeThreads(threads);
    });
    afterAll(() => {
      setNativeThreads(wantedNativeThreads());
    });

    for (const [i, [m, k, n]] of MM_SHAPES.entries()) {
      for (const [tA, tB] of [[false, false], [true, false], [false, true], [true, true]] as const) {
        it(`BatchMatMul M=${m} K=${k} N=${n} tA=${tA} tB=${tB}`, async () => {
          const rng = new Rng(`nbmm-${i}-${tA}-${tB}`);
          const a2 = tA ? [k, m] : [m, k];
          const b2 = tB ? [n, k] : [k, n];
          const av = randn(rng, m * k);
          const bv = randn(rng, k * n);
          const r2 = await both(matmulRun(a2, b2, av, bv, tA, tB), 'BatchMatMul');
          expect(r2.calls).toBe(1);
          expect(relErr(r2.got, r2.want)).toBeLessThan(1e-4);
          // Rank 3 with batch 1.
          const r3 = await both(matmulRun([1, ...a2], [1, ...b2], av, bv, tA, tB), 'BatchMatMul');
          expect(r3.calls).toBe(1);
          expect(relErr(r3.got, r3.want)).toBeLessThan(1e-4);
        });
      }
    }

    for (const [tA, tB] of [[false, false], [true, false], [false, true], [true, true]] as const) {
      it(`batched BatchMatMul (batch 3, rank 3 and 4, broadcast operands) tA=${tA} tB=${tB}`, async () => {
        const rng = new Rng(`nbmm-batched-${tA}-${tB}`);
        const [m, k, n] = [5, 37, 6];
        const a2 = tA ? [k, m] : [m, k];
        const b2 = tB ? [n, k] : [k, n];
        const cases: [number[], number[]][] = [
          [[3, ...a2], [3, ...b2]],
          [[1, ...a2], [3, ...b2]],
          [[3, ...a2], [1, ...b2]],
          [[3, ...a2], b2],
          [[2, 3, ...a2], [2, 3, ...b2]],
          [[64, ...a2], [64, ...b2]], // batch >= threads: one product per task
        ];
        for (const [as, bs] of cases) {
          const av = randn(rng, as.reduce((p, q) => p * q, 1));
          const bv = randn(rng, bs.reduce((p, q) => p * q, 1));
          const r = await both(matmulRun(as, bs, av, bv, tA, tB), 'BatchMatMul');
          expect(r.calls).toBe(1);
          expect(relErr(r.got, r.want)).toBeLessThan(1e-4);
        }
      });
    }

    it('BatchMatMul gradients of a dense layer equal cpu and leak nothing', async () => {
      const run = denseLayerGradients('nbmm-grad');
      const r = await both(run, 'BatchMatMul');
      expect(r.calls).toBe(3); // forward, dx = dy.w^T, dw = x^T.dy
      expect(relErr(r.got, r.want)).toBeLessThan(1e-4);
      const before = tf.memory().numTensors;
      const ids = tf.backend().numDataIds();
      for (let i = 0; i < 20; i++) run();
      expect(tf.memory().numTensors).toBe(before);
      expect(tf.backend().numDataIds()).toBe(ids);
    });

    // The shared small cases (less three the wasm kernel tests also cover),
    // ConvNet-S layers at batch 3, and a wide odd-channel case.
    const CONV_CASES: ConvCase[] = [
      ...SMALL_CONV_CASES.filter((c) => !c.wasmOnly),
      ...convNetSCases([3, 3, 3]),
      { x: [2, 9, 11, 20], k: [3, 3], cout: 37, s: 1, pad: 'valid' },
    ];

    const FORWARD_CASES: ConvCase[] = [
      ...CONV_CASES,
      { x: [2, 9, 11, 3], k: [3, 3], cout: 4, s: 1, pad: 'same', d: 2 },
      { x: [1, 12, 10, 2], k: [3, 2], cout: 3, s: 1, pad: 'valid', d: [2, 3] },
    ];
    for (const [i, c] of FORWARD_CASES.entries()) {
      it(`Conv2D ${name(c)}`, async () => {
        const rng = new Rng(`nconv-${i}`);
        const xv = randn(rng, count(c.x));
        const wv = randn(rng, count(filterShape(c)));
        const run = () =>
          tf.tidy(() => {
            const y = tf.conv2d(tf.tensor4d(xv, c.x), tf.tensor4d(wv, filterShape(c)), c.s, c.pad as 'same', 'NHWC', c.d ?? 1, c.round);
            expect(y.shape).toEqual(outShape(c));
            return y.dataSync() as Float32Array;
          });
        const r = await both(run, 'Conv2D');
        expect(r.calls).toBe(1);
        expect(relErr(r.got, r.want)).toBeLessThan(1e-4);
      });
    }

    for (const [i, c] of CONV_CASES.entries()) {
      it(`Conv2DBackpropInput ${name(c)}`, async () => {
        const rng = new Rng(`nbpi-${i}`);
        const dyv = randn(rng, count(outShape(c)));
        const wv = randn(rng, count(filterShape(c)));
        const run = () => runConv2DBackpropInput(c, dyv, wv);
        const r = await both(run, 'Conv2DBackpropInput');
        expect(r.calls).toBe(1);
        expect(relErr(r.got, r.want)).toBeLessThan(1e-4);
      });

      it(`Conv2DBackpropFilter ${name(c)}`, async () => {
        const rng = new Rng(`nbpf-${i}`);
        const xv = randn(rng, count(c.x));
        const dyv = randn(rng, count(outShape(c)));
        const run = () => runConv2DBackpropFilter(c, xv, dyv);
        const r = await both(run, 'Conv2DBackpropFilter');
        expect(r.calls).toBe(1);
        expect(relErr(r.got, r.want)).toBeLessThan(1e-4);
      });
    }

    it('gradients of a small conv net (conv s1 + bias + relu, conv s2 + relu, pool, dense) equal cpu', async () => {
      const rng = new Rng('nnet-grad');
      const xv = randn(rng, 2 * 9 * 8 * 2);
      const w1 = randn(rng, 3 * 3 * 2 * 4).map((v) => v * 0.5);
      const b1 = randn(rng, 4).map((v) => v * 0.1);
      const w2 = randn(rng, 3 * 3 * 4 * 6).map((v) => v * 0.3);
      const wd = randn(rng, 6 * 3);
      const run = () =>
        tf.tidy(() => {
          const x = tf.tensor4d(xv, [2, 9, 8, 2]);
          const params = [tf.tensor4d(w1, [3, 3, 2, 4]), tf.tensor1d(b1), tf.tensor4d(w2, [3, 3, 4, 6]), tf.tensor2d(wd, [6, 3])];
          const loss = (xx: tf.Tensor, a: tf.Tensor, b: tf.Tensor, c: tf.Tensor, d: tf.Tensor) => {
            const h1 = tf.relu(tf.add(tf.conv2d(xx as tf.Tensor4D, a as tf.Tensor4D, 1, 'same'), b));
            const h2 = tf.relu(tf.conv2d(h1 as tf.Tensor4D, c as tf.Tensor4D, 2, 'same'));
            return tf.sum(tf.square(tf.matMul(tf.mean(h2, [1, 2]) as tf.Tensor2D, d as tf.Tensor2D)));
          };
          const gs = tf.grads(loss)([x, ...params]);
          return new Float32Array(gs.flatMap((g) => [...g.dataSync()]));
        });
      await tf.setBackend('cpu');
      const want = run();
      await tf.setBackend('wasm');
      const before = { ...nativeCalls };
      const got = run();
      expect(nativeCalls.Conv2D - before.Conv2D).toBe(2);
      expect(nativeCalls.Conv2DBackpropInput - before.Conv2DBackpropInput).toBe(2); // dx of both convs (x is an input)
      expect(nativeCalls.Conv2DBackpropFilter - before.Conv2DBackpropFilter).toBe(2);
      expect(relErr(got, want)).toBeLessThan(1e-4);
    });

    it('leaks no tensors or heap buffers over repeated calls of every kernel', async () => {
      await tf.setBackend('wasm');
      const x = tf.randomNormal([2, 9, 7, 3], 0, 1, 'float32', 1);
      const w = tf.randomNormal([3, 3, 3, 4], 0, 1, 'float32', 2);
      const dy = tf.randomNormal([2, 5, 4, 4], 0, 1, 'float32', 3);
      const a = tf.randomNormal([3, 20, 30], 0, 1, 'float32', 4);
      const attrs = { strides: 2, pad: 'same', dataFormat: 'NHWC' };
      const once = () => {
        tf.dispose([
          tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 2, 'same'),
          tf.engine().runKernel('Conv2DBackpropInput', { dy, filter: w }, { ...attrs, inputShape: [2, 9, 7, 3] } as unknown as tf.NamedAttrMap) as tf.Tensor,
          tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { ...attrs, filterShape: [3, 3, 3, 4] } as unknown as tf.NamedAttrMap) as tf.Tensor,
          tf.matMul(a, a, true, false),
        ]);
      };
      once();
      const before = tf.memory();
      const ids = tf.backend().numDataIds();
      for (let i = 0; i < 30; i++) once();
      const after = tf.memory();
      expect(after.numTensors).toBe(before.numTensors);
      expect(after.numBytes).toBe(before.numBytes);
      expect(tf.backend().numDataIds()).toBe(ids);
      tf.dispose([x, w, dy, a]);
    });

    it('falls back to the wasm kernels when disabled at run time, with the same results', async () => {
      await tf.setBackend('wasm');
      const rng = new Rng('nfallback');
      const xv = randn(rng, 2 * 7 * 9 * 3);
      const wv = randn(rng, 3 * 3 * 3 * 5);
      const run = () =>
        tf.tidy(() => {
          const g = tf.grads((x: tf.Tensor, w: tf.Tensor) => tf.sum(tf.square(tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 2, 'same'))));
          const [gx, gw] = g([tf.tensor4d(xv, [2, 7, 9, 3]), tf.tensor4d(wv, [3, 3, 3, 5])]);
          return new Float32Array([...gx!.dataSync(), ...gw!.dataSync()]);
        });
      const on = run();
      setNativeEnabled(false);
      try {
        const before = { ...nativeCalls };
        const off = run();
        expect(nativeCalls).toEqual(before);
        expect(relErr(on, off)).toBeLessThan(1e-4);
      } finally {
        setNativeEnabled(true);
      }
    });

    it('rejects wrong-sized arrays in the addon instead of writing past them', () => {
      // The addon itself (require caches the module loader.ts loaded).
      const addon = createRequire(import.meta.url)(status.path) as { matmul: (...a: unknown[]) => void; conv2d: (...a: unknown[]) => void };
      const small = new Float32Array(3);
      expect(() => addon.matmul(small, small, small, 1, 2, 2, 2, false, false, 0, 0)).toThrow(/elements/);
      expect(() => addon.conv2d(small, small, small, [1, 2, 2, 1, 1, 1, 1, 2, 2, 1, 1, 1, 1, 0, 0])).toThrow(/elements/);
      expect(() => addon.matmul([1, 2], small, small, 1, 1, 1, 1, false, false, 0, 0)).toThrow(/Float32Array/);
    });
  });
}
