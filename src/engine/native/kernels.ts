/**
 * wasm-backend kernels computed by the native addon (loader.ts) in place on
 * the wasm heap: BatchMatMul, Conv2D, Conv2DBackpropInput and
 * Conv2DBackpropFilter; and (end of file) float32 Exp, Relu, broadcasting
 * Add/Sub/Multiply, Sum/Mean/Max over contiguous axes and comparisons.
 *
 * Each `native*` function returns null when it does not apply (addon absent
 * or disabled, a dtype other than float32, NCHW, an empty tensor, a batch
 * broadcast the addon does not do); the caller then runs hemlock's wasm
 * kernel, which stays the fallback. hemlock's BatchMatMul,
 * Conv2DBackpropInput and Conv2DBackpropFilter call these first
 * (../kernels/*.ts); Conv2D is a wrapper of the built-in registered here.
 *
 * Heap discipline: allocate the output (makeOutput, which may grow the heap
 * and, for a non-shared heap, detach earlier views) before taking any view.
 * The addon runs synchronously, so the views stay valid for the call; the
 * wasm backend's own thread pool is idle between kernels.
 *
 * The numerics are those of a float32 GEMM with FMA (no -ffast-math), summed
 * in a different order from XNNPACK's: the results match the cpu backend to
 * float32 rounding (kernels.test.ts).
 */
import { tf } from '../tf.js';
import { asWasmBackend } from '../kernels/wasmHeap.js';
import { nativeAddon } from './loader.js';

type Pad = 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;

interface ConvAttrs {
  strides: number | [number, number];
  pad: Pad;
  dataFormat?: 'NHWC' | 'NCHW';
  dilations?: number | [number, number];
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

const size = (s: number[]) => s.reduce((p, q) => p * q, 1);

/** Calls that ran natively, per kernel (tests check the native path was taken). */
export const nativeCalls = { BatchMatMul: 0, Conv2D: 0, Conv2DBackpropInput: 0, Conv2DBackpropFilter: 0, Exp: 0, Relu: 0, Add: 0, Sub: 0, Multiply: 0, Sum: 0, Mean: 0, Max: 0, Compare: 0 };

function f32(info: tf.TensorInfo | undefined): info is tf.TensorInfo {
  return info != null && info.dtype === 'float32';
}

function nhwc(format: string | undefined): boolean {
  return format == null || format === 'NHWC' || format === 'channelsLast';
}

/** The addon's dims array for a conv described by computeConv2DInfo. */
function convDims(c: tf.backend_util.Conv2DInfo): number[] {
  return [
    c.batchSize, c.inHeight, c.inWidth, c.inChannels,
    c.filterHeight, c.filterWidth, c.outChannels,
    c.outHeight, c.outWidth,
    c.strideHeight, c.strideWidth,
    c.dilationHeight, c.dilationWidth,
    c.padInfo.top, c.padInfo.left,
  ];
}

export function nativeBatchMatMul(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): tf.TensorInfo | null {
  const addon = nativeAddon();
  if (!addon) return null;
  const { a, b } = args.inputs;
  if (!f32(a) || !f32(b) || a.shape.length < 2 || b.shape.length < 2) return null;
  const { transposeA, transposeB } = args.attrs as unknown as { transposeA: boolean; transposeB: boolean };
  const ar = a.shape.length;
  const br = b.shape.length;
  const m = transposeA ? a.shape[ar - 1]! : a.shape[ar - 2]!;
  const k = transposeA ? a.shape[ar - 2]! : a.shape[ar - 1]!;
  const kb = transposeB ? b.shape[br - 1]! : b.shape[br - 2]!;
  const n = transposeB ? b.shape[br - 2]! : b.shape[br - 1]!;
  if (k !== kb) return null; // the fallback throws tfjs's own message
  const outerA = a.shape.slice(0, -2);
  const outerB = b.shape.slice(0, -2);
  const batchA = size(outerA);
  const batchB = size(outerB);
  let outer: number[];
  try {
    outer = tf.backend_util.assertAndGetBroadcastShape(outerA, outerB);
  } catch {
    return null;
  }
  const batch = size(outer);
  // The addon broadcasts a whole operand (stride 0), not single batch axes.
  if (!((batchA === batch || batchA === 1) && (batchB === batch || batchB === 1))) return null;
  if (batch * m * n === 0 || k === 0) return null;
  const wasm = asWasmBackend(args.backend);
  const out = wasm.makeOutput([...outer, m, n], 'float32');
  const av = wasm.typedArrayFromHeap(a) as Float32Array;
  const bv = wasm.typedArrayFromHeap(b) as Float32Array;
  const cv = wasm.typedArrayFromHeap(out) as Float32Array;
  nativeCalls.BatchMatMul++;
  addon.matmul(av, bv, cv, batch, m, n, k, transposeA, transposeB, batchA === 1 ? 0 : m * k, batchB === 1 ? 0 : k * n);
  return out;
}

export function nativeConv2D(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): tf.TensorInfo | null {
  const addon = nativeAddon();
  if (!addon) return null;
  const { x, filter } = args.inputs;
  if (!f32(x) || !f32(filter) || x.shape.length !== 4 || filter.shape.length !== 4) return null;
  const at = args.attrs as unknown as ConvAttrs;
  if (!nhwc(at.dataFormat)) return null;
  let c: tf.backend_util.Conv2DInfo;
  try {
    c = tf.backend_util.computeConv2DInfo(x.shape as [number, number, number, number], filter.shape as [number, number, number, number], at.strides, at.dilations ?? 1, at.pad, at.dimRoundingMode, false, 'channelsLast');
  } catch {
    return null; // let the built-in report the bad attributes
  }
  if (size(c.outShape) === 0 || size(x.shape) === 0 || size(filter.shape) === 0) return null;
  const wasm = asWasmBackend(args.backend);
  const out = wasm.makeOutput(c.outShape, 'float32');
  nativeCalls.Conv2D++;
  addon.conv2d(wasm.typedArrayFromHeap(x) as Float32Array, wasm.typedArrayFromHeap(filter) as Float32Array, wasm.typedArrayFromHeap(out) as Float32Array, convDims(c));
  return out;
}

export function nativeConv2DBackpropInput(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): tf.TensorInfo | null {
  const addon = nativeAddon();
  if (!addon) return null;
  const { dy, filter } = args.inputs;
  if (!f32(dy) || !f32(filter) || dy.shape.length !== 4 || filter.shape.length !== 4) return null;
  const at = args.attrs as unknown as ConvAttrs & { inputShape: [number, number, number, number] };
  if (!nhwc(at.dataFormat)) return null;
  let c: tf.backend_util.Conv2DInfo;
  try {
    c = tf.backend_util.computeConv2DInfo(at.inputShape, filter.shape as [number, number, number, number], at.strides, 1, at.pad, at.dimRoundingMode, false, 'channelsLast');
  } catch {
    return null;
  }
  // dy must be exactly the conv's output; otherwise the fallback throws a precise message.
  const want = c.outShape;
  if (dy.shape.some((d, i) => d !== want[i]) || size(at.inputShape) === 0 || size(dy.shape) === 0) return null;
  const wasm = asWasmBackend(args.backend);
  const out = wasm.makeOutput(at.inputShape.slice(), 'float32');
  nativeCalls.Conv2DBackpropInput++;
  addon.conv2dBackpropInput(wasm.typedArrayFromHeap(dy) as Float32Array, wasm.typedArrayFromHeap(filter) as Float32Array, wasm.typedArrayFromHeap(out) as Float32Array, convDims(c));
  return out;
}

export function nativeConv2DBackpropFilter(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): tf.TensorInfo | null {
  const addon = nativeAddon();
  if (!addon) return null;
  const { x, dy } = args.inputs;
  if (!f32(x) || !f32(dy) || x.shape.length !== 4 || dy.shape.length !== 4) return null;
  const at = args.attrs as unknown as ConvAttrs & { filterShape: [number, number, number, number] };
  if (!nhwc(at.dataFormat)) return null;
  let c: tf.backend_util.Conv2DInfo;
  try {
    c = tf.backend_util.computeConv2DInfo(x.shape as [number, number, number, number], at.filterShape, at.strides, 1, at.pad, at.dimRoundingMode, false, 'channelsLast');
  } catch {
    return null;
  }
  const want = c.outShape;
  if (dy.shape.some((d, i) => d !== want[i]) || size(x.shape) === 0 || size(dy.shape) === 0 || size(at.filterShape) === 0) return null;
  const wasm = asWasmBackend(args.backend);
  const out = wasm.makeOutput(at.filterShape.slice(), 'float32');
  nativeCalls.Conv2DBackpropFilter++;
  addon.conv2dBackpropFilter(wasm.typedArrayFromHeap(x) as Float32Array, wasm.typedArrayFromHeap(dy) as Float32Array, wasm.typedArrayFromHeap(out) as Float32Array, convDims(c));
  return out;
}

export const CONV2D = 'Conv2D';
let builtinConv2D: tf.KernelConfig | undefined;

/** Conv2D on wasm: native when it applies, else the built-in (XNNPACK). */
export const conv2DNativeWasm: tf.KernelFunc = (args) => {
  const native = nativeConv2D(args);
  if (native) return native;
  const base = builtinConv2DWasm();
  if (!base) throw new Error('Conv2D: the wasm backend has no built-in kernel to wrap');
  return base.kernelFunc(args);
};

/** The wasm backend's own Conv2D, as it was before we wrapped it. */
export function builtinConv2DWasm(): tf.KernelConfig | undefined {
  if (builtinConv2D === undefined) {
    const k = tf.getKernel(CONV2D, 'wasm');
    if (k && k.kernelFunc !== conv2DNativeWasm) builtinConv2D = k;
  }
  return builtinConv2D;
}

/**
 * Wraps the wasm backend's Conv2D (idempotent). The wrapper is installed even
 * when the addon is absent (it then only forwards), so that turning native
 * kernels on and off at run time (setNativeEnabled) needs no re-registration.
 * It keeps the built-in's setupFunc, which binds the C++ function when the
 * backend starts, so it must run before the wasm backend initialises.
 */
export function registerConv2DNativeWasm(): void {
  const existing = tf.getKernel(CONV2D, 'wasm');
  if (!existing || existing.kernelFunc === conv2DNativeWasm) return;
  builtinConv2D = existing;
  tf.unregisterKernel(CONV2D, 'wasm');
  tf.registerKernel({ kernelName: CONV2D, backendName: 'wasm', setupFunc: existing.setupFunc, disposeFunc: existing.disposeFunc, kernelFunc: conv2DNativeWasm });
}

// ---------------------------------------------------------------------------
// Element-wise kernels (native/src/eltwise.cc). Why: after the GEMMs went
// native, W4's step (softmax cross-entropy on [60000,10] logits) was
// dominated by the wasm backend's scalar Exp (13.7 ms of CPU per step), its
// generic broadcasting Add/Sub/Multiply (~11 ms), Max over classes (1.7 ms),
// and hemlock's JS Sum and Equal loops (~3 + 3 ms); docs/performance.md §8.
// Sum and the comparisons are routed here from ../kernels/sum.ts and
// ../kernels/compareBroadcast.ts, which stay their fallbacks.

type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap };

function nativeUnary(name: 'Exp' | 'Relu', args: KernelArgs): tf.TensorInfo | null {
  const addon = nativeAddon();
  if (!addon) return null;
  const { x } = args.inputs;
  if (!f32(x)) return null;
  const n = size(x.shape);
  if (n === 0) return null;
  const wasm = asWasmBackend(args.backend);
  const out = wasm.makeOutput(x.shape.slice(), 'float32');
  nativeCalls[name]++;
  addon.unary(name === 'Exp' ? 0 : 1, wasm.typedArrayFromHeap(x) as Float32Array, wasm.typedArrayFromHeap(out) as Float32Array, n);
  return out;
}

export const nativeExp = (args: KernelArgs) => nativeUnary('Exp', args);

/**
 * Broadcast strides of `shape` against `out` (right-aligned; 0 on broadcast
 * axes), then adjacent axes merged where both operands stay contiguous (or
 * both broadcast), so same-shape operands become one run and [R,C]·[R,1]
 * becomes R runs of C. Exported for tests.
 */
export function broadcastPlan(aShape: number[], bShape: number[], out: number[]): { shape: number[]; sa: number[]; sb: number[] } {
  const strides = (s: number[]) => {
    const r = new Array<number>(out.length).fill(0);
    let st = 1;
    for (let d = out.length - 1, k = s.length - 1; d >= 0; d--, k--) {
      const dim = k >= 0 ? s[k]! : 1;
      r[d] = dim === 1 ? 0 : st;
      st *= dim;
    }
    return r;
  };
  const A = strides(aShape);
  const B = strides(bShape);
  const shape: number[] = [];
  const sa: number[] = [];
  const sb: number[] = [];
  for (let d = 0; d < out.length; d++) {
    if (out[d] === 1) continue; // size-1 axes contribute nothing
    const last = shape.length - 1;
    const merges = (st: number[], prev: number[]) => (st[d] === 0 && prev[last] === 0) || (st[d] !== 0 && prev[last] === st[d]! * out[d]!);
    if (last >= 0 && merges(A, sa) && merges(B, sb)) {
      shape[last]! *= out[d]!;
      sa[last] = A[d]!;
      sb[last] = B[d]!;
    } else {
      shape.push(out[d]!);
      sa.push(A[d]!);
      sb.push(B[d]!);
    }
  }
  if (shape.length === 0) return { shape: [1], sa: [0], sb: [0] };
  return { shape, sa, sb };
}

const BINARY_OPS = { Add: 0, Sub: 1, Multiply: 2 } as const;
type BinaryName = keyof typeof BINARY_OPS;

export function nativeBinary(name: BinaryName, args: KernelArgs): tf.TensorInfo | null {
  const addon = nativeAddon();
  if (!addon) return null;
  const { a, b } = args.inputs;
  if (!f32(a) || !f32(b)) return null;
  let outShape: number[];
  try {
    outShape = tf.backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
  } catch {
    return null; // the built-in throws tfjs's own message
  }
  if (size(outShape) === 0 || outShape.length > 8) return null;
  const plan = broadcastPlan(a.shape, b.shape, outShape);
  const wasm = asWasmBackend(args.backend);
  const out = wasm.makeOutput(outShape, 'float32');
  nativeCalls[name]++;
  addon.binary(BINARY_OPS[name], wasm.typedArrayFromHeap(a) as Float32Array, wasm.typedArrayFromHeap(b) as Float32Array, wasm.typedArrayFromHeap(out) as Float32Array, plan.shape, plan.sa, plan.sb);
  return out;
}

/**
 * Sum, mean or max of float32 x over `axes` when they form one contiguous
 * range (x viewed as [outer, mid, inner], reduced over mid): last-axis
 * reductions (log-sum-exp over classes), leading-axis ones (bias gradients)
 * and middle ones (global average pooling over H,W). Null when not applicable.
 */
export function nativeReduce(op: 'sum' | 'mean' | 'max', x: tf.TensorInfo, axes: number[], keepDims: boolean, backend: unknown): tf.TensorInfo | null {
  const addon = nativeAddon();
  if (!addon || !f32(x) || x.shape.length < 1 || axes.length === 0) return null;
  const sorted = [...axes].sort((p, q) => p - q);
  const a0 = sorted[0]!;
  const a1 = sorted[sorted.length - 1]!;
  if (a1 - a0 + 1 !== sorted.length || new Set(sorted).size !== sorted.length) return null;
  const outer = size(x.shape.slice(0, a0));
  const mid = size(x.shape.slice(a0, a1 + 1));
  const inner = size(x.shape.slice(a1 + 1));
  if (mid === 0 || outer * inner === 0) return null; // empty reductions: the built-in's identity values
  const wasm = asWasmBackend(backend);
  const outShape = x.shape.map((d, i) => (i >= a0 && i <= a1 ? 1 : d)).filter((_, i) => keepDims || i < a0 || i > a1);
  const out = wasm.makeOutput(outShape, 'float32');
  nativeCalls[op === 'sum' ? 'Sum' : op === 'mean' ? 'Mean' : 'Max']++;
  addon.reduce(op === 'max' ? 1 : op === 'sum' ? 0 : 2, wasm.typedArrayFromHeap(x) as Float32Array, wasm.typedArrayFromHeap(out) as Float32Array, outer, mid, inner);
  return out;
}

const COMPARE_OPS: Record<string, number> = { Equal: 0, NotEqual: 1, Greater: 2, GreaterEqual: 3, Less: 4, LessEqual: 5 };

/** Float32 comparisons (any broadcast) as 0/1 bools; null when not applicable. */
export function nativeCompare(name: string, a: tf.TensorInfo, b: tf.TensorInfo, backend: unknown): tf.TensorInfo | null {
  const addon = nativeAddon();
  const op = COMPARE_OPS[name];
  if (!addon || op === undefined || !f32(a) || !f32(b)) return null;
  let outShape: number[];
  try {
    outShape = tf.backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
  } catch {
    return null;
  }
  if (size(outShape) === 0 || outShape.length > 8) return null;
  const plan = broadcastPlan(a.shape, b.shape, outShape);
  const wasm = asWasmBackend(backend);
  const out = wasm.makeOutput(outShape, 'bool');
  nativeCalls.Compare++;
  addon.compare(op, wasm.typedArrayFromHeap(a) as Float32Array, wasm.typedArrayFromHeap(b) as Float32Array, wasm.typedArrayFromHeap(out) as Uint8Array, plan.shape, plan.sa, plan.sb);
  return out;
}

const reduceKernel = (op: 'mean' | 'max', axisAttr: 'axis' | 'reductionIndices') => (args: KernelArgs) => {
  const { x } = args.inputs;
  if (!x) return null;
  const at = args.attrs as unknown as Record<string, number | number[]> & { keepDims: boolean };
  return nativeReduce(op, x, tf.util.parseAxisParam(at[axisAttr]!, x.shape), at.keepDims, args.backend);
};

const ELTWISE: Record<string, (args: KernelArgs) => tf.TensorInfo | null> = {
  Exp: nativeExp,
  // W1: ReLU after each conv (1.5 ms per step on wasm) and the global average pool (Mean, 1.4 ms).
  Relu: (args) => nativeUnary('Relu', args),
  Mean: reduceKernel('mean', 'axis'),
  Add: (args) => nativeBinary('Add', args),
  Sub: (args) => nativeBinary('Sub', args),
  Multiply: (args) => nativeBinary('Multiply', args),
  Max: reduceKernel('max', 'reductionIndices'),
};
const eltwiseBuiltins: Record<string, tf.KernelConfig> = {};
const eltwiseWrappers: Record<string, tf.KernelFunc> = {};

/** The wasm backend's own kernel `name` (see ELTWISE), as before wrapping. */
export function builtinEltwiseWasm(name: string): tf.KernelConfig | undefined {
  return eltwiseBuiltins[name];
}

/**
 * Wraps the wasm backend's Exp, Relu, Add, Sub, Multiply, Mean and Max
 * (idempotent): native when it applies (float32, addon loaded and enabled),
 * else the built-in.
 * Like the Conv2D wrapper it is installed even without the addon and keeps
 * each built-in's setupFunc, so it must run before the backend initialises.
 */
export function registerEltwiseNativeWasm(): void {
  for (const name of Object.keys(ELTWISE)) {
    const existing = tf.getKernel(name, 'wasm');
    if (!existing || existing.kernelFunc === eltwiseWrappers[name]) continue;
    eltwiseBuiltins[name] = existing;
    const nat = ELTWISE[name]!;
    const wrapper: tf.KernelFunc = (args) => nat(args) ?? existing.kernelFunc(args);
    eltwiseWrappers[name] = wrapper;
    tf.unregisterKernel(name, 'wasm');
    tf.registerKernel({ kernelName: name, backendName: 'wasm', setupFunc: existing.setupFunc, disposeFunc: existing.disposeFunc, kernelFunc: wrapper });
  }
}
