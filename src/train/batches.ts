import { tf, type Tensor1D, type Tensor4D } from '../engine/tf.js';

/** The fields of an image dataset that training reads (ImageDataset has them). */
export interface ImageArrays {
  images: Float32Array;
  labels: Int32Array;
  height: number;
  width: number;
  channels: number;
}

export function countOf(d: ImageArrays): number {
  return d.labels.length;
}

/** Copies the samples at `indices` into an NHWC batch tensor and a label tensor. */
export function gatherBatch(d: ImageArrays, indices: ArrayLike<number>): { x: Tensor4D; y: Tensor1D } {
  const size = d.height * d.width * d.channels;
  const n = indices.length;
  const xs = new Float32Array(n * size);
  const ys = new Int32Array(n);
  for (let j = 0; j < n; j++) {
    const i = indices[j]!;
    xs.set(d.images.subarray(i * size, (i + 1) * size), j * size);
    ys[j] = d.labels[i]!;
  }
  return { x: tf.tensor4d(xs, [n, d.height, d.width, d.channels]), y: tf.tensor1d(ys, 'int32') };
}

/** Contiguous index ranges [start, end) of at most `batchSize`. */
export function* batchRanges(n: number, batchSize: number): Generator<[number, number]> {
  for (let s = 0; s < n; s += batchSize) yield [s, Math.min(n, s + batchSize)];
}
