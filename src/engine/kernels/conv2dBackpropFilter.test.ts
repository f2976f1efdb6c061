import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../tf.js';
import { initBackend } from '../backend.js';
import { Rng } from '../rng.js';
import { registerWasmKernels } from './index.js';
import { conv2DBackpropFilterWasm } from './conv2dBackpropFilter.js';

type Pad = 'same' | 'valid' | number | tf.backend_util.ExplicitPadding;
interface Case {
  x: [number, number, number, number];
  k: [number, number];
  cout: number;
  s: number | [number, number];
  pad: Pad;
  round?: 'floor' | 'round' | 'ceil';
}

// Odd sizes (7x9), batch 1, Cin/Cout in {1,3,5}, strides 1/2 (and 3, mixed),
// same/valid/numeric/explicit pads, 1x1, 3x3, 5x5 and non-square kernels, plus
// ConvNet-S layer shapes at a small batch.
const CASES: Case[] = [
  { x: [2, 7, 9, 3], k: [3, 3], cout: 5, s: 1, pad: 'same' },
  { x: [2, 7, 9, 3], k: [3, 3], cout: 5, s: 2, pad: 'same' },
  { x: [1, 7, 9, 1], k: [5, 5], cout: 3, s: 2, pad: 'valid' },
  { x: [1, 7, 9, 5], k: [1, 1], cout: 1, s: 2, pad: 'same' },
  { x: [3, 8, 8, 1], k: [1, 1], cout: 5, s: 1, pad: 'valid' },
  { x: [1, 9, 7, 3], k: [5, 5], cout: 5, s: 1, pad: 'same' },
  { x: [2, 7, 9, 5], k: [3, 3], cout: 3, s: 2, pad: 'valid' },
  { x: [1, 7, 9, 5], k: [5, 5], cout: 5, s: 2, pad: 'same' },
  { x: [1, 7, 9, 3], k: [3, 5], cout: 3, s: [1, 2], pad: 'same' },
  { x: [2, 7, 9, 3], k: [3, 3], cout: 5, s: 2, pad: 1 },
  { x: [1, 8, 8, 3], k: [5, 5], cout: 3, s: 2, pad: 2 },
  { x: [1, 7, 9, 3], k: [3, 3], cout: 5, s: 2, pad: [[0, 0], [1, 2], [0, 3], [0, 0]] },
  { x: [1, 7, 9, 3], k: [3, 3], cout: 5, s: 1, pad: [[0, 0], [2, 0], [1, 1], [0, 0]] },
  { x: [1, 5, 5, 2], k: [3, 3], cout: 2, s: 2, pad: [[0, 0], [4, 1], [0, 5], [0, 0]] },
  { x: [1, 8, 8, 2], k: [3, 3], cout: 3, s: 2, pad: 0, round: 'ceil' },
  { x: [1, 6, 7, 2], k: [3, 3], cout: 3, s: 3, pad: 'same' },
  { x: [4, 28, 28, 1], k: [3, 3], cout: 32, s: 1, pad: 'same' },
  { x: [2, 28, 28, 32], k: [3, 3], cout: 64, s: 2, pad: 'same' },
  { x: [2, 14, 14, 64], k: [3, 3], cout: 128, s: 2, pad: 'same' },
];

function randn(rng: Rng, n: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.normal();
  return a;
}

function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  expect(den).toBeGreaterThan(0); // a zero reference would make the check vacuous
  return num / den;
}

function caseName(c: Case): string {
  return `x ${c.x.join('x')} k ${c.k.join('x')} cout ${c.cout} s ${c.s} pad ${JSON.stringify(c.pad)}${c.round ? ' ' + c.round : ''}`;
}

function outShape(c: Case): [number, number, number, number] {
  const info = tf.backend_util.computeConv2DInfo(c.x, [c.k[0], c.k[1], c.x[3], c.cout], c.s, 1, c.pad, c.round);
  return [c.x[0], info.outHeight, info.outWidth, c.cout];
}

function backpropFilter(c: Case, xv: Float32Array, dyv: Float32Array): Float32Array {
  return tf.tidy(() => {
    const x = tf.tensor4d(xv, c.x);
    const dy = tf.tensor4d(dyv, outShape(c));
    const dw = tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, {
      strides: c.s,
      pad: c.pad,
      dataFormat: 'NHWC',
      dimRoundingMode: c.round,
      filterShape: [c.k[0], c.k[1], c.x[3], c.cout],
    } as unknown as tf.NamedAttrMap) as tf.Tensor;
    return dw.dataSync() as Float32Array;
  });
}

describe('Conv2DBackpropFilter on wasm', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  it('is registered on wasm, and registerWasmKernels() is idempotent', () => {
    registerWasmKernels();
    registerWasmKernels();
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')?.kernelFunc).toBe(conv2DBackpropFilterWasm);
  });

  for (const [i, c] of CASES.entries()) {
    it(`matches the cpu backend: ${caseName(c)}`, async () => {
      const rng = new Rng(`bpf-${i}`);
      const xv = randn(rng, c.x.reduce((a, b) => a * b, 1));
      const dyv = randn(rng, outShape(c).reduce((a, b) => a * b, 1));
      await tf.setBackend('cpu');
      const want = backpropFilter(c, xv, dyv);
      await tf.setBackend('wasm');
      const got = backpropFilter(c, xv, dyv);
      expect(relErr(got, want)).toBeLessThan(1e-4);
    });
  }

  it('gives the same conv2d weight gradient as cpu through tf.grad (a training step)', async () => {
    const rng = new Rng('bpf-grad');
    const xv = randn(rng, 2 * 9 * 7 * 3);
    const wv = randn(rng, 3 * 3 * 3 * 4);
    const rv = randn(rng, 2 * 5 * 4 * 4);
    const grad = () =>
      tf.tidy(() => {
        const x = tf.tensor4d(xv, [2, 9, 7, 3]);
        const r = tf.tensor4d(rv, [2, 5, 4, 4]);
        const g = tf.grad((w: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(x, w as tf.Tensor4D, 2, 'same'), r)));
        return g(tf.tensor4d(wv, [3, 3, 3, 4])).dataSync() as Float32Array;
      });
    await tf.setBackend('cpu');
    const want = grad();
    await tf.setBackend('wasm');
    const got = grad();
    expect(relErr(got, want)).toBeLessThan(1e-4);
  });

  it('rejects NCHW', async () => {
    await tf.setBackend('wasm');
    const x = tf.zeros([1, 2, 5, 5]);
    const dy = tf.zeros([1, 3, 5, 5]);
    expect(() =>
      tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, {
        strides: 1,
        pad: 'same',
        dataFormat: 'NCHW',
        filterShape: [3, 3, 2, 3],
      } as unknown as tf.NamedAttrMap),
    ).toThrow(/NHWC/);
    tf.dispose([x, dy]);
  });

  it('does not leak: 50 calls leave tensors, data buffers and backend data ids unchanged', async () => {
    await tf.setBackend('wasm');
    const x = tf.randomNormal([2, 9, 7, 3], 0, 1, 'float32', 1);
    const dy = tf.randomNormal([2, 5, 4, 4], 0, 1, 'float32', 2);
    const attrs = { strides: 2, pad: 'same', dataFormat: 'NHWC', filterShape: [3, 3, 3, 4] } as unknown as tf.NamedAttrMap;
    (tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, attrs) as tf.Tensor).dispose(); // warm-up
    const before = tf.memory();
    const ids = tf.backend().numDataIds();
    let last = 0;
    for (let i = 0; i < 50; i++) {
      const dw = tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, attrs) as tf.Tensor;
      expect(dw.shape).toEqual([3, 3, 3, 4]);
      last = dw.dataSync()[0];
      dw.dispose();
    }
    expect(Number.isFinite(last)).toBe(true);
    const after = tf.memory();
    expect(after.numTensors).toBe(before.numTensors);
    expect(after.numDataBuffers).toBe(before.numDataBuffers);
    expect(tf.backend().numDataIds()).toBe(ids);
    tf.dispose([x, dy]);
  });
});
