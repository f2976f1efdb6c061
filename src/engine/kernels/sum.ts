/**
 * `Sum` for the tfjs wasm backend, wrapping the built-in kernel.
 *
 * The built-in kernel reduces only over the innermost axes: for any other
 * axes it first transposes the whole input (a generic C++ transpose, ~5 ns per
 * element) and then sums. Training hits the worst case in every layer: the
 * bias gradient sums dy [N,H,W,C] over N, H and W, leaving C.
 *
 * MEASURED (this machine, wasm SIMD, 1 thread, CPU time of one call):
 *   sum of [128,28,28,32] over axes 0,1,2   built-in 16-21 ms, this file ~3 ms
 *   (a [1,P]·[P,C] matMul with ones: 26 ms, XNNPACK re-packs the operand)
 *
 * Method: when the reduced axes are every axis but the last (float32), one
 * pass over the rows of the [P, C] view, accumulating in float64, written back
 * as float32. Everything else goes to the built-in kernel unchanged.
 *
 * Numerics: float64 accumulation in row order; the built-in sums in float32.
 * The result is the correctly rounded sum up to float64 error, so it agrees
 * with the cpu backend to float32 rounding (sum.test.ts).
 */
import { tf } from '../tf.js';
import { asWasmBackend } from './wasmHeap.js';
import { nativeReduce } from '../native/kernels.js';

export const SUM = 'Sum';

interface Attrs {
  axis: number | number[];
  keepDims: boolean;
}

let builtin: tf.KernelConfig | undefined;

/** True when `axes` (normalised) are exactly 0..rank-2. */
export function isLeadingReduction(axes: number[], rank: number): boolean {
  if (rank < 2 || axes.length !== rank - 1) return false;
  const sorted = [...axes].sort((a, b) => a - b);
  return sorted.every((a, i) => a === i);
}

export const sumWasm: tf.KernelFunc = (args) => {
  const { inputs, backend, attrs } = args;
  const { x } = inputs;
  const base = builtinSumWasm();
  if (!base) throw new Error('Sum: the wasm backend has no built-in kernel to wrap');
  if (x == null || x.dtype !== 'float32') return base.kernelFunc(args);
  const { axis, keepDims } = attrs as unknown as Attrs;
  const rank = x.shape.length;
  const axes = tf.util.parseAxisParam(axis, x.shape);
  // Native addon first (contiguous axis ranges, incl. this file's leading
  // case at ~0.3 ms instead of ~1.5 ms for W4's [60000,10] -> [10]); the JS
  // loop below is its fallback.
  const native = nativeReduce('sum', x, axes, keepDims, backend);
  if (native) return native;
  if (!isLeadingReduction(axes, rank)) return base.kernelFunc(args);
  const c = x.shape[rank - 1]!;
  const size = tf.util.sizeFromShape(x.shape);
  if (size === 0 || c === 0) return base.kernelFunc(args);
  const rows = size / c;
  const wasm = asWasmBackend(backend);
  const outShape = keepDims ? [...Array(rank - 1).fill(1), c] : [c];
  const out = wasm.makeOutput(outShape, 'float32');
  const src = wasm.typedArrayFromHeap(x) as Float32Array;
  const dst = wasm.typedArrayFromHeap(out) as Float32Array;
  const acc = new Float64Array(c);
  for (let r = 0, o = 0; r < rows; r++, o += c) {
    for (let j = 0; j < c; j++) acc[j] += src[o + j]!;
  }
  for (let j = 0; j < c; j++) dst[j] = acc[j]!;
  return out;
};

export function builtinSumWasm(): tf.KernelConfig | undefined {
  if (builtin === undefined) {
    const k = tf.getKernel(SUM, 'wasm');
    if (k && k.kernelFunc !== sumWasm) builtin = k;
  }
  return builtin;
}

/** Wraps the wasm backend's Sum (idempotent; keeps the built-in's setupFunc). */
export function registerSumWasm(): void {
  const existing = tf.getKernel(SUM, 'wasm');
  if (!existing || existing.kernelFunc === sumWasm) return;
  builtin = existing;
  tf.unregisterKernel(SUM, 'wasm');
  tf.registerKernel({ kernelName: SUM, backendName: 'wasm', setupFunc: existing.setupFunc, disposeFunc: existing.disposeFunc, kernelFunc: sumWasm });
}
