/**
 * Shared plumbing for hemlock's wasm kernels that are written with public tf
 * ops (see conv2dBackpropFilter.ts, conv2dBackpropInput.ts).
 *
 * Inside a kernelFunc the engine does not record ops on the gradient tape, so a
 * kernel may call tf ops freely. The ops run on the active backend, which is the
 * backend the kernel is registered for (the engine only dispatches a kernel to
 * the backend it belongs to).
 */
import { tf } from '../tf.js';

/**
 * Runs `body` on the kernel's inputs as tensors and hands its result to the
 * engine as a TensorInfo, the way the wasm backend's own Reshape kernel does:
 * take one more reference on the result's data, dispose the tensor (which drops
 * the tensor's own reference), and return the bare `{dataId, shape, dtype}`. The
 * engine then wraps that TensorInfo in the tensor the caller sees. Every
 * intermediate made by `body` is released by the tidy, so nothing leaks.
 */
export function runAsKernel(
  backend: tf.KernelBackend,
  inputs: tf.TensorInfo[],
  body: (...tensors: tf.Tensor[]) => tf.Tensor,
): tf.TensorInfo {
  const result = tf.tidy(() => {
    // The engine passes Tensor objects; a caller may hand a bare TensorInfo
    // (backends do this when kernels call kernels). Wrap those in a tensor that
    // holds its own reference, which the tidy then releases.
    const tensors = inputs.map((info) => {
      if (info instanceof tf.Tensor) return info;
      backend.incRef(info.dataId);
      return tf.engine().makeTensorFromTensorInfo(info);
    });
    return body(...tensors);
  });
  backend.incRef(result.dataId);
  const out: tf.TensorInfo = { dataId: result.dataId, shape: result.shape.slice(), dtype: result.dtype };
  result.dispose();
  return out;
}

/**
 * The part `[start, end)` of a spatial axis of an NHWC tensor, where `start`
 * may be negative and `end` may pass the axis length: the out-of-range rows are
 * zeros. Returns the in-range slice plus the zero padding still to add before
 * and after, so the caller can hand the padding to a conv2d (which pads without
 * a copy) instead of materialising it.
 */
export interface Window {
  begin: number;
  size: number;
  padBefore: number;
  padAfter: number;
}

export function window1d(start: number, end: number, length: number): Window | null {
  const begin = Math.max(start, 0);
  const stop = Math.min(end, length);
  if (begin >= stop) return null;
  return { begin, size: stop - begin, padBefore: begin - start, padAfter: end - stop };
}

/** Slices `x` (NHWC) to the rows/columns of the two windows (no-op if whole). */
export function sliceHW(x: tf.Tensor4D, wh: Window, ww: Window): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  if (wh.begin === 0 && wh.size === h && ww.begin === 0 && ww.size === w) return x;
  return tf.slice(x, [0, wh.begin, ww.begin, 0], [n, wh.size, ww.size, c]);
}

export function explicitPads(wh: Window, ww: Window): tf.backend_util.ExplicitPadding {
  return [
    [0, 0],
    [wh.padBefore, wh.padAfter],
    [ww.padBefore, ww.padAfter],
    [0, 0],
  ];
}

export function pair(v: number | [number, number]): [number, number] {
  return typeof v === 'number' ? [v, v] : v;
}

export function assertNHWC(kernelName: string, dataFormat: string | undefined): void {
  if (dataFormat != null && dataFormat !== 'NHWC') {
    throw new Error(`hemlock's wasm ${kernelName} supports dataFormat 'NHWC' only, got '${dataFormat}'`);
  }
}
