/**
 * Comparisons with broadcasting (`Equal`, `NotEqual`, `Greater`,
 * `GreaterEqual`, `Less`, `LessEqual`) for the tfjs wasm backend, wrapping
 * the built-in kernels.
 *
 * The built-in comparison kernels are fast when both shapes are equal or one
 * input is a scalar, but take a generic per-element index-arithmetic path for
 * any other broadcast. That path is hit on every step of training: the
 * gradient of `max(x, axis)` (used by a numerically stable log-softmax) is
 * `dy · (x == max(x, axis, keepDims))`, an Equal of [N,K] against [N,1].
 *
 * MEASURED (this machine, wasm SIMD, 1 thread, CPU time of one call):
 *   Equal [60000,10] vs [60000,1]   built-in 33 ms   (same shapes: 2.4 ms)
 *   tf.broadcastTo first, then Equal          25 ms   (the Tile kernel is slow too)
 *   this file                                 ~2 ms
 *
 * Method: a JavaScript loop over the output in row-major order with
 * broadcast strides (0 along broadcast axes), innermost axis unrolled as a
 * contiguous loop. Same shapes and scalar operands go to the built-in kernel.
 *
 * Numerics: exact (comparisons of the same float32/int32 values, IEEE
 * semantics: NaN compares unequal to everything).
 */
import { tf } from '../tf.js';
import { asWasmBackend } from './wasmHeap.js';
import { nativeCompare } from '../native/kernels.js';

type Cmp = (a: number, b: number) => boolean;

export const COMPARISONS: Record<string, Cmp> = {
  Equal: (a, b) => a === b,
  NotEqual: (a, b) => a !== b,
  Greater: (a, b) => a > b,
  GreaterEqual: (a, b) => a >= b,
  Less: (a, b) => a < b,
  LessEqual: (a, b) => a <= b,
};

const builtins: Record<string, tf.KernelConfig> = {};
const wrappers: Record<string, tf.KernelFunc> = {};

function sameShape(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Strides of `shape` aligned to the broadcast `out` shape, 0 along broadcast axes. */
function broadcastStrides(shape: number[], out: number[]): number[] {
  const r = out.length;
  const strides = new Array<number>(r).fill(0);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    const axis = r - shape.length + i;
    strides[axis] = shape[i] === 1 && out[axis] !== 1 ? 0 : s;
    s *= shape[i]!;
  }
  return strides;
}

/** out[i] = cmp(a[ia], b[ib]) over the broadcast shape; exported for tests. */
export function compareBroadcastLoop(
  cmp: Cmp,
  a: ArrayLike<number>,
  aShape: number[],
  b: ArrayLike<number>,
  bShape: number[],
  out: Uint8Array,
  outShape: number[],
): void {
  const r = outShape.length;
  const sa = broadcastStrides(aShape, outShape);
  const sb = broadcastStrides(bShape, outShape);
  const inner = outShape[r - 1]!;
  const ia = sa[r - 1]!;
  const ib = sb[r - 1]!;
  const outer = out.length / inner;
  const idx = new Array<number>(Math.max(0, r - 1)).fill(0);
  let pa = 0;
  let pb = 0;
  let po = 0;
  for (let o = 0; o < outer; o++) {
    if (ia === 1 && ib === 0) {
      const bv = b[pb]!;
      for (let j = 0; j < inner; j++) out[po + j] = cmp(a[pa + j]!, bv) ? 1 : 0;
    } else if (ia === 0 && ib === 1) {
      const av = a[pa]!;
      for (let j = 0; j < inner; j++) out[po + j] = cmp(av, b[pb + j]!) ? 1 : 0;
    } else {
      for (let j = 0; j < inner; j++) out[po + j] = cmp(a[pa + j * ia]!, b[pb + j * ib]!) ? 1 : 0;
    }
    po += inner;
    // Odometer over the outer axes.
    for (let ax = r - 2; ax >= 0; ax--) {
      idx[ax]!++;
      pa += sa[ax]!;
      pb += sb[ax]!;
      if (idx[ax]! < outShape[ax]!) break;
      pa -= sa[ax]! * outShape[ax]!;
      pb -= sb[ax]! * outShape[ax]!;
      idx[ax] = 0;
    }
  }
}

function makeWrapper(name: string, cmp: Cmp): tf.KernelFunc {
  return (args) => {
    const { inputs, backend } = args;
    const { a, b } = inputs;
    const base = builtins[name];
    if (!base) throw new Error(`${name}: the wasm backend has no built-in kernel to wrap`);
    if (a == null || b == null || a.dtype !== b.dtype || a.dtype === 'string' || a.dtype === 'complex64') return base.kernelFunc(args);
    // float32 of any shapes on the native addon when loaded (~0.3 ms for
    // W4's [60000,10] vs [60000,1] against ~2.5 ms for the loop below).
    const native = nativeCompare(name, a, b, backend);
    if (native) return native;
    const aSize = tf.util.sizeFromShape(a.shape);
    const bSize = tf.util.sizeFromShape(b.shape);
    if (sameShape(a.shape, b.shape) || aSize === 1 || bSize === 1) return base.kernelFunc(args);
    const outShape = tf.backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
    if (tf.util.sizeFromShape(outShape) === 0) return base.kernelFunc(args);
    const wasm = asWasmBackend(backend);
    const out = wasm.makeOutput(outShape, 'bool');
    compareBroadcastLoop(cmp, wasm.typedArrayFromHeap(a), a.shape, wasm.typedArrayFromHeap(b), b.shape, wasm.typedArrayFromHeap(out) as Uint8Array, outShape);
    return out;
  };
}

/** Wraps the wasm backend's comparison kernels (idempotent; keeps their setupFuncs). */
export function registerCompareBroadcastWasm(): void {
  for (const [name, cmp] of Object.entries(COMPARISONS)) {
    const existing = tf.getKernel(name, 'wasm');
    if (!existing) continue;
    wrappers[name] ??= makeWrapper(name, cmp);
    if (existing.kernelFunc === wrappers[name]) continue;
    builtins[name] = existing;
    tf.unregisterKernel(name, 'wasm');
    tf.registerKernel({ kernelName: name, backendName: 'wasm', setupFunc: existing.setupFunc, disposeFunc: existing.disposeFunc, kernelFunc: wrappers[name]! });
  }
}
