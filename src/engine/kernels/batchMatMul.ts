/**
 * `BatchMatMul` for the tfjs wasm backend, wrapping the built-in kernel.
 *
 * The built-in kernel (tfjs-backend-wasm 4.22, batch_mat_mul_impl.cc) uses
 * XNNPACK's fully-connected operator — threaded, SIMD — only when neither
 * operand is transposed and the batch is 1. Every other case runs a scalar
 * blocked triple loop, single-threaded. Training hits those cases all the
 * time: the gradients of y = x·W are dx = dy·Wᵀ (transposeB) and
 * dW = xᵀ·dy (transposeA); similarity matrices z·zᵀ are transposeB.
 *
 * MEASURED (this machine, wasm SIMD, 1 thread, CPU time of one call after a
 * warm-up, see docs/performance.md):
 *   [288,25088] x [25088,64]                 plain     33 ms
 *   [25088,288]ᵀ x [25088,64]   transposeA  built-in  364 ms
 *   [288,25088] x [64,25088]ᵀ   transposeB  built-in  351 ms
 *   transpose of [25088,288]                           35 ms
 *   [60000,128]ᵀ x [60000,10]   transposeA  built-in   65 ms
 *   transpose [60000,10] + plain [10,60000] x [60000,128]  ≈ 17 ms
 *
 * Method: for a rank-2 problem (all batch dimensions 1) with a transposed
 * operand, materialise what XNNPACK needs with explicit transposes and run
 * the plain (fast) kernel. Two arrangements compute the same C = op(A)·op(B):
 *   (i)  C  = op(A) · op(B)                — transpose A if tA, B if tB
 *   (ii) Cᵀ = op(B)ᵀ · op(A)ᵀ, then Cᵀᵀ    — transpose A if !tA, B if !tB, and C
 * We pick the cheaper by a cost model fitted to measurements: a transpose
 * costs ~5 ns per element on wasm, and XNNPACK re-packs the operand in the
 * second slot on every call (~12 ns per element). Measured (CPU ms, fresh
 * operands, including the transposes):
 *   Aᵀ·B  K=25088 M=288 N=64:   (i) 49  (ii) 106
 *   Aᵀ·B  K=6272  M=576 N=128:  (i) 40  (ii)  57
 *   Aᵀ·B  K=60000 M=128 N=10:   (i) 22  (ii) 100 Batched (rank-3, batch > 1) products and plain
 * products go to the built-in kernel unchanged.
 *
 * Numerics: every output element is the same length-K dot product, summed by
 * XNNPACK in its own order instead of the scalar loop's; results agree with
 * the cpu backend to float32 rounding (batchMatMul.test.ts).
 */
import { tf } from '../tf.js';
import { runAsKernel } from './kernelUtil.js';
import { nativeBatchMatMul } from '../native/kernels.js';

export const BATCH_MAT_MUL = 'BatchMatMul';

interface Attrs {
  transposeA: boolean;
  transposeB: boolean;
}

let builtin: tf.KernelConfig | undefined;

/** Cost (in element moves) of arrangement (i) and (ii) for C[M,N] = op(A)[M,K]·op(B)[K,N]. */
export function matMulPlanCosts(m: number, k: number, n: number, tA: boolean, tB: boolean): { direct: number; swapped: number } {
  // ns per element, measured on wasm: a Transpose ~5; XNNPACK's packing of the
  // second operand (done on every call for a fresh tensor) ~12.
  const TRANSPOSE = 5;
  const PACK = 12;
  const direct = (tA ? TRANSPOSE * m * k : 0) + (tB ? TRANSPOSE * k * n : 0) + PACK * k * n;
  const swapped = (tA ? 0 : TRANSPOSE * m * k) + (tB ? 0 : TRANSPOSE * k * n) + TRANSPOSE * m * n + PACK * k * m;
  return { direct, swapped };
}

/** C = op(A)·op(B) for 2-D a, b using only plain (untransposed) matMuls. */
export function matMulViaPlain(a: tf.Tensor2D, b: tf.Tensor2D, tA: boolean, tB: boolean): tf.Tensor2D {
  const m = tA ? a.shape[1] : a.shape[0];
  const k = tA ? a.shape[0] : a.shape[1];
  const n = tB ? b.shape[0] : b.shape[1];
  const { direct, swapped } = matMulPlanCosts(m, k, n, tA, tB);
  if (direct <= swapped) {
    return tf.matMul(tA ? tf.transpose(a) : a, tB ? tf.transpose(b) : b);
  }
  // op(B)ᵀ is B itself when tB, op(A)ᵀ is A itself when tA.
  const bt = tB ? b : tf.transpose(b);
  const at = tA ? a : tf.transpose(a);
  return tf.transpose(tf.matMul(bt, at)) as tf.Tensor2D;
}

export const batchMatMulWasm: tf.KernelFunc = (args) => {
  // The native addon (src/engine/native/), when built and enabled, does every
  // float32 case (any transposes, batched) with AVX-512/AVX2; what follows is
  // the fallback.
  const native = nativeBatchMatMul(args);
  if (native) return native;
  const { inputs, backend, attrs } = args;
  const { a, b } = inputs;
  const { transposeA, transposeB } = attrs as unknown as Attrs;
  const base = builtinBatchMatMulWasm();
  if (!base) throw new Error('BatchMatMul: the wasm backend has no built-in kernel to wrap');
  if (a == null || b == null || (!transposeA && !transposeB) || a.dtype !== 'float32' || b.dtype !== 'float32') {
    return base.kernelFunc(args);
  }
  const outer = (s: number[]) => s.slice(0, -2).reduce((p, q) => p * q, 1);
  if (a.shape.length < 2 || b.shape.length < 2 || outer(a.shape) !== 1 || outer(b.shape) !== 1) {
    return base.kernelFunc(args);
  }
  const ar = a.shape.length;
  const br = b.shape.length;
  const a2: [number, number] = [a.shape[ar - 2]!, a.shape[ar - 1]!];
  const b2: [number, number] = [b.shape[br - 2]!, b.shape[br - 1]!];
  const m = transposeA ? a2[1] : a2[0];
  const n = transposeB ? b2[0] : b2[1];
  const outShape = [...Array(Math.max(ar, br) - 2).fill(1), m, n];
  if (m * n === 0 || a2[0] * a2[1] === 0) return base.kernelFunc(args);
  return runAsKernel(backend as tf.KernelBackend, [a, b], (at, bt) =>
    tf.reshape(matMulViaPlain(tf.reshape(at, a2), tf.reshape(bt, b2), transposeA, transposeB), outShape),
  );
};

/** The wasm backend's own kernel, as it was before we wrapped it. */
export function builtinBatchMatMulWasm(): tf.KernelConfig | undefined {
  if (builtin === undefined) {
    const k = tf.getKernel(BATCH_MAT_MUL, 'wasm');
    if (k && k.kernelFunc !== batchMatMulWasm) builtin = k;
  }
  return builtin;
}

/**
 * Wraps the wasm backend's BatchMatMul (idempotent). Must run before the wasm
 * backend initialises: the wrapper carries the built-in's setupFunc, which
 * binds the C++ function when the backend starts.
 */
export function registerBatchMatMulWasm(): void {
  const existing = tf.getKernel(BATCH_MAT_MUL, 'wasm');
  if (!existing || existing.kernelFunc === batchMatMulWasm) return;
  builtin = existing;
  tf.unregisterKernel(BATCH_MAT_MUL, 'wasm');
  tf.registerKernel({ kernelName: BATCH_MAT_MUL, backendName: 'wasm', setupFunc: existing.setupFunc, disposeFunc: existing.disposeFunc, kernelFunc: batchMatMulWasm });
}
