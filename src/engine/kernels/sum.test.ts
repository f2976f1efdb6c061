import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../tf.js';
import { initBackend } from '../backend.js';
import { Rng } from '../rng.js';
import { registerWasmKernels } from './index.js';
import { isLeadingReduction, sumWasm } from './sum.js';

function randn(rng: Rng, n: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.normal();
  return a;
}

const CASES: { shape: number[]; axis: number | number[]; keepDims?: boolean }[] = [
  { shape: [2, 7, 9, 3], axis: [0, 1, 2] },
  { shape: [1, 5, 5, 1], axis: [0, 1, 2] },
  { shape: [1, 1, 1, 7], axis: [0, 1, 2], keepDims: true },
  { shape: [2, 7, 9, 3], axis: [2, 0, 1] },
  { shape: [2, 7, 9, 3], axis: [-4, -3, -2] },
  { shape: [13, 5], axis: 0 },
  { shape: [13, 5], axis: [0], keepDims: true },
  { shape: [3, 4, 129], axis: [0, 1] },
  // Not a leading reduction: the built-in kernel.
  { shape: [2, 7, 9, 3], axis: [1, 2] },
  { shape: [2, 7, 9, 3], axis: 3 },
  { shape: [13, 5], axis: 1 },
  { shape: [6], axis: 0 },
];

function sum(shape: number[], v: Float32Array, axis: number | number[], keepDims?: boolean) {
  return tf.tidy(() => {
    const out = tf.sum(tf.tensor(v, shape), axis, keepDims);
    return { shape: out.shape, values: Array.from(out.dataSync()) };
  });
}

describe('Sum on wasm (hemlock wrapper)', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  it('wraps the built-in kernel on wasm, idempotently', () => {
    registerWasmKernels();
    registerWasmKernels();
    expect(tf.getKernel('Sum', 'wasm')?.kernelFunc).toBe(sumWasm);
    expect(isLeadingReduction([0, 1, 2], 4)).toBe(true);
    expect(isLeadingReduction([1, 2], 4)).toBe(false);
    expect(isLeadingReduction([0], 1)).toBe(false);
  });

  for (const [i, c] of CASES.entries()) {
    it(`matches the cpu backend: ${JSON.stringify(c)}`, async () => {
      const v = randn(new Rng(`sum-${i}`), c.shape.reduce((a, b) => a * b, 1));
      await tf.setBackend('cpu');
      const want = sum(c.shape, v, c.axis, c.keepDims);
      await tf.setBackend('wasm');
      const got = sum(c.shape, v, c.axis, c.keepDims);
      expect(got.shape).toEqual(want.shape);
      for (let j = 0; j < want.values.length; j++) expect(got.values[j]).toBeCloseTo(want.values[j]!, 4);
    });
  }

  it('sums int32 through the built-in kernel', async () => {
    const got = tf.tidy(() => Array.from(tf.sum(tf.tensor2d([1, 2, 3, 4, 5, 6], [3, 2], 'int32'), 0).dataSync()));
    expect(got).toEqual([9, 12]);
  });

  it('is exact on values whose float32 running sum would round', () => {
    // 2^24 + 1 + 1 + ...: a float32 accumulator stalls at 2^24; float64 does not.
    const n = 64;
    const v = new Float32Array(n * 2);
    v[0] = 2 ** 24;
    for (let r = 1; r < n; r++) v[r * 2] = 1;
    const got = tf.tidy(() => Array.from(tf.sum(tf.tensor2d(v, [n, 2]), 0).dataSync()));
    expect(got[0]).toBe(Math.fround(2 ** 24 + n - 1));
    expect(got[1]).toBe(0);
  });
});
