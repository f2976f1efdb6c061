/**
 * Case lists and helpers shared by the kernel tests that check hemlock's wasm
 * kernels (src/engine/kernels/*.test.ts) and the native addon
 * (src/engine/native/*.test.ts) against the cpu backend.
 */
import { expect } from 'vitest';
import { tf } from '../engine/tf.js';
import { Rng } from '../engine/rng.js';

export function randn(rng: Rng, n: number, scale = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.normal() * scale;
  return a;
}

export const size = (s: number[]) => s.reduce((p, q) => p * q, 1);

/** Max abs error relative to the largest |reference| value; a NaN difference counts as Infinity. */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    num = Number.isNaN(d) ? Infinity : Math.max(num, d);
    den = Math.max(den, Math.abs(b[i]!));
  }
  expect(den).toBeGreaterThan(0); // a zero reference would make the check vacuous
  return num / den;
}

// [M, K, N] with odd sizes, 1-sized dims, N < NR and shapes where each plan wins.
export const MM_SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [1, 7, 5],
  [7, 1, 9],
  [5, 9, 1],
  [13, 17, 11],
  [33, 65, 3],
  [3, 300, 40],
  [200, 9, 31],
];

export type Pad = 'same' | 'valid' | number | tf.backend_util.ExplicitPadding;
export interface ConvCase {
  x: [number, number, number, number];
  k: [number, number];
  cout: number;
  s: number | [number, number];
  pad: Pad;
  d?: number | [number, number];
  round?: 'floor' | 'round' | 'ceil';
  /** Checked by the wasm kernel tests only (the native suite leaves it out). */
  wasmOnly?: boolean;
}

// Odd sizes (7x9), batch 1, Cin/Cout in {1,3,5}, strides 1/2 (and 3, mixed),
// same/valid/numeric/explicit pads, 1x1, 3x3, 5x5 and non-square kernels.
export const SMALL_CONV_CASES: ConvCase[] = [
  { x: [2, 7, 9, 3], k: [3, 3], cout: 5, s: 1, pad: 'same' },
  { x: [2, 7, 9, 3], k: [3, 3], cout: 5, s: 2, pad: 'same' },
  { x: [1, 7, 9, 1], k: [5, 5], cout: 3, s: 2, pad: 'valid' },
  { x: [1, 7, 9, 5], k: [1, 1], cout: 1, s: 2, pad: 'same' },
  { x: [3, 8, 8, 1], k: [1, 1], cout: 5, s: 1, pad: 'valid' },
  { x: [1, 9, 7, 3], k: [5, 5], cout: 5, s: 1, pad: 'same' },
  { x: [2, 7, 9, 5], k: [3, 3], cout: 3, s: 2, pad: 'valid' },
  { x: [1, 7, 9, 5], k: [5, 5], cout: 5, s: 2, pad: 'same', wasmOnly: true },
  { x: [1, 7, 9, 3], k: [3, 5], cout: 3, s: [1, 2], pad: 'same' },
  { x: [2, 7, 9, 3], k: [3, 3], cout: 5, s: 2, pad: 1 },
  { x: [1, 8, 8, 3], k: [5, 5], cout: 3, s: 2, pad: 2, wasmOnly: true },
  { x: [1, 7, 9, 3], k: [3, 3], cout: 5, s: 2, pad: [[0, 0], [1, 2], [0, 3], [0, 0]] },
  { x: [1, 7, 9, 3], k: [3, 3], cout: 5, s: 1, pad: [[0, 0], [2, 0], [1, 1], [0, 0]], wasmOnly: true },
  { x: [1, 5, 5, 2], k: [3, 3], cout: 2, s: 2, pad: [[0, 0], [4, 1], [0, 5], [0, 0]] },
  { x: [1, 8, 8, 2], k: [3, 3], cout: 3, s: 2, pad: 0, round: 'ceil' },
  { x: [1, 6, 7, 2], k: [3, 3], cout: 3, s: 3, pad: 'same' },
];

/** The three conv layers of ConvNet-S, at the given batch size of each. */
export function convNetSCases(batch: [number, number, number]): ConvCase[] {
  return [
    { x: [batch[0], 28, 28, 1], k: [3, 3], cout: 32, s: 1, pad: 'same' },
    { x: [batch[1], 28, 28, 32], k: [3, 3], cout: 64, s: 2, pad: 'same' },
    { x: [batch[2], 14, 14, 64], k: [3, 3], cout: 128, s: 2, pad: 'same' },
  ];
}

/** The wasm kernel tests' list: all small cases plus ConvNet-S layer shapes at a small batch. */
export const WASM_CONV_CASES: ConvCase[] = [...SMALL_CONV_CASES, ...convNetSCases([4, 2, 2])];

export function convCaseName(c: ConvCase): string {
  return `x ${c.x.join('x')} k ${c.k.join('x')} cout ${c.cout} s ${c.s} pad ${JSON.stringify(c.pad)}${c.d ? ` d ${c.d}` : ''}${c.round ? ' ' + c.round : ''}`;
}

export function filterShape(c: ConvCase): [number, number, number, number] {
  return [c.k[0], c.k[1], c.x[3], c.cout];
}

export function convOutShape(c: ConvCase): [number, number, number, number] {
  const info = tf.backend_util.computeConv2DInfo(c.x, filterShape(c), c.s, c.d ?? 1, c.pad, c.round);
  return [c.x[0], info.outHeight, info.outWidth, c.cout];
}

/** Conv2DBackpropInput through the registered kernel of the current backend; checks the output shape. */
export function runConv2DBackpropInput(c: ConvCase, dyv: Float32Array, wv: Float32Array): Float32Array {
  return tf.tidy(() => {
    const dy = tf.tensor4d(dyv, convOutShape(c));
    const filter = tf.tensor4d(wv, filterShape(c));
    const dx = tf.engine().runKernel('Conv2DBackpropInput', { dy, filter }, {
      strides: c.s,
      pad: c.pad,
      dataFormat: 'NHWC',
      dimRoundingMode: c.round,
      inputShape: c.x,
    } as unknown as tf.NamedAttrMap) as tf.Tensor;
    expect(dx.shape).toEqual(c.x);
    return dx.dataSync() as Float32Array;
  });
}

/** Conv2DBackpropFilter through the registered kernel of the current backend; checks the output shape. */
export function runConv2DBackpropFilter(c: ConvCase, xv: Float32Array, dyv: Float32Array): Float32Array {
  return tf.tidy(() => {
    const x = tf.tensor4d(xv, c.x);
    const dy = tf.tensor4d(dyv, convOutShape(c));
    const dw = tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, {
      strides: c.s,
      pad: c.pad,
      dataFormat: 'NHWC',
      dimRoundingMode: c.round,
      filterShape: filterShape(c),
    } as unknown as tf.NamedAttrMap) as tf.Tensor;
    expect(dw.shape).toEqual(filterShape(c));
    return dw.dataSync() as Float32Array;
  });
}

/**
 * A dense-layer gradient case, ∇(x, w) of Σ (x·w)² for a seeded 9×7 x and 7×5 w,
 * on the current backend: three BatchMatMuls (forward, dx = dy·wᵀ, dw = xᵀ·dy).
 * Returns [gx..., gw...]; leaves no tensors behind.
 */
export function denseLayerGradients(seed: string): () => Float32Array {
  const rng = new Rng(seed);
  const xv = randn(rng, 9 * 7);
  const wv = randn(rng, 7 * 5);
  return () =>
    tf.tidy(() => {
      const x = tf.tensor2d(xv, [9, 7]);
      const w = tf.tensor2d(wv, [7, 5]);
      const [gx, gw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.square(tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D))))([x, w]);
      return new Float32Array([...gx!.dataSync(), ...gw!.dataSync()]);
    });
}
