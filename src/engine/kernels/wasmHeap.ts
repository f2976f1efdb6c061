/**
 * Direct access to the wasm backend's tensor memory, for kernels written as
 * plain JavaScript loops (memory-bound operations where the backend's own C++
 * kernels take a slow generic path).
 *
 * A tensor on the wasm backend is a range of the module's heap; the backend
 * exposes `makeOutput` (allocate a tensor) and `typedArrayFromHeap` (a view of
 * a tensor's bytes). Allocating may grow the heap, which detaches earlier views
 * of a non-shared heap: always allocate the output first, then take views.
 */
import type { tf } from '../tf.js';

export interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
}

export function asWasmBackend(backend: unknown): WasmBackendLike {
  const b = backend as Partial<WasmBackendLike>;
  if (typeof b.makeOutput !== 'function' || typeof b.typedArrayFromHeap !== 'function') {
    throw new Error('expected the tfjs wasm backend');
  }
  return b as WasmBackendLike;
}
