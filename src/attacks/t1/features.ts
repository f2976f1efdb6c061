import { tf, type Tensor } from '../../engine/tf.js';
import type { Module } from '../../models/module.js';
import { extractFeatures as extractProbeFeatures } from '../../train/probe.js';
import type { ImageArrays } from '../../train/batches.js';

/**
 * A frozen feature extractor: images (NHWC in [0,1]) → featureDim-d features.
 * This is the `body` of a Classifier (buildModel / loadModel); the SSL
 * pre-trainer's encoders have the same shape.
 */
export type FeatureExtractor = Module & { featureDim: number };

/** Row-major N × dim features with their labels. */
export interface FeatureSet {
  z: Float32Array;
  labels: Int32Array;
  count: number;
  dim: number;
}

export function featureSet(z: Float32Array, labels: Int32Array, dim: number): FeatureSet {
  if (z.length !== labels.length * dim) throw new RangeError(`featureSet: ${z.length} values for ${labels.length} labels × ${dim}`);
  return { z, labels, count: labels.length, dim };
}

/** The frozen encoder applied in inference mode to a batch (a tensor the caller owns). */
export function encode(encoder: FeatureExtractor, x: Tensor): Tensor {
  return encoder.apply(x, { training: false });
}

const cache = new WeakMap<object, WeakMap<object, Float32Array>>();

/**
 * Features of every image (src/train/probe.ts's extractor: batches, inference
 * mode), memoised per (encoder, images array) so several attacks and the
 * victim in one run share one pass over the data.
 */
export function extractFeatures(encoder: FeatureExtractor, d: ImageArrays, batchSize = 256): Float32Array {
  let perEncoder = cache.get(encoder);
  if (!perEncoder) {
    perEncoder = new WeakMap();
    cache.set(encoder, perEncoder);
  }
  const hit = perEncoder.get(d.images);
  if (hit && hit.length === d.labels.length * encoder.featureDim) return hit;
  const out = extractProbeFeatures(encoder, d, batchSize).features;
  perEncoder.set(d.images, out);
  return out;
}

/** Seeds the memo with features computed elsewhere (e.g. read from the stage cache), so attacks in the same run reuse them. */
export function rememberFeatures(encoder: FeatureExtractor, d: ImageArrays, z: Float32Array): void {
  if (z.length !== d.labels.length * encoder.featureDim) throw new RangeError(`rememberFeatures: ${z.length} values for ${d.labels.length} images × ${encoder.featureDim}`);
  let perEncoder = cache.get(encoder);
  if (!perEncoder) {
    perEncoder = new WeakMap();
    cache.set(encoder, perEncoder);
  }
  perEncoder.set(d.images, z);
}

/** Features of raw image rows (memoised per images array). */
export function featuresOf(encoder: FeatureExtractor, images: Float32Array, shape: { height: number; width: number; channels: number }, batchSize = 256): Float32Array {
  const n = images.length / (shape.height * shape.width * shape.channels);
  return extractFeatures(encoder, { images, labels: new Int32Array(n), height: shape.height, width: shape.width, channels: shape.channels }, batchSize);
}

/** Per-dimension [min, max] of a feature set (the box GC clamps poisoned features to). */
export function featureRange(f: FeatureSet, kind: 'per-dimension' | 'global' = 'per-dimension'): { lo: Float32Array; hi: Float32Array } {
  const lo = new Float32Array(f.dim).fill(Infinity);
  const hi = new Float32Array(f.dim).fill(-Infinity);
  for (let i = 0; i < f.count; i++) {
    for (let k = 0; k < f.dim; k++) {
      const v = f.z[i * f.dim + k]!;
      if (v < lo[k]!) lo[k] = v;
      if (v > hi[k]!) hi[k] = v;
    }
  }
  if (kind === 'global') {
    const gl = Math.min(...lo);
    const gh = Math.max(...hi);
    lo.fill(gl);
    hi.fill(gh);
  }
  return { lo, hi };
}

/** Rows `indices` of a feature set, copied. */
export function gatherRows(z: Float32Array, dim: number, indices: ArrayLike<number>): Float32Array {
  const out = new Float32Array(indices.length * dim);
  for (let j = 0; j < indices.length; j++) out.set(z.subarray(indices[j]! * dim, (indices[j]! + 1) * dim), j * dim);
  return out;
}
