import { z } from 'zod';
import { tf, type Tensor4D, type Variable } from '../engine/tf.js';
import type { Rng } from '../engine/rng.js';
import { ParamBuilder, disposeModule, type Module } from '../models/module.js';
import { makeDense } from '../models/layers.js';
import { Optimizer } from '../train/optimizers.js';
import type { ImageArrays } from '../train/batches.js';
import { encode, extractFeatures, type FeatureExtractor } from './t1/features.js';
import { cosineLr } from './gradientCanceling.js';

/**
 * Feature inversion: turning poisoned *features* ζ back into valid images
 * x ∈ [0,1]^D whose features f(x) are close to ζ (ALGORITHMS.md §1, FT stage 3).
 *
 *  (a) decoder inversion: train a decoder g on clean data so that
 *      g(f(x)) ≈ x (MSE), then x_p = g(ζ). g is an MLP
 *      d → h → h → H·W·C with a sigmoid output, so its images are valid;
 *      its input is standardised with the clean features' mean and std.
 *  (b) feature matching: x_p = argmin_{x ∈ [0,1]^D, ‖x − x₀‖∞ ≤ ε} ‖f(x) − ζ‖²
 *      by Adam on x with a cosine-decayed step, projected onto the box (and
 *      the optional ℓ∞ ball around the start image x₀) after every step.
 *
 * Both report the residual ‖f(x_p) − ζ‖², absolute and relative to ‖ζ‖².
 */

export const DecoderConfigSchema = z.strictObject({
  hidden: z.number().int().positive().default(512),
  epochs: z.number().int().positive().default(15),
  batchSize: z.number().int().positive().default(128),
  lr: z.number().positive().default(1e-3),
});
export type DecoderConfig = z.output<typeof DecoderConfigSchema>;

export const MatchConfigSchema = z.strictObject({
  steps: z.number().int().positive().default(100),
  lr: z.number().positive().default(0.02).describe('Adam step in pixel units (pixels are in [0,1]).'),
  linf: z.number().positive().max(1).optional().describe('Optional ℓ∞ budget around the start image (absolute, e.g. 0.1 or 16/255).'),
  batchSize: z.number().int().positive().default(100),
});
export type MatchConfig = z.output<typeof MatchConfigSchema>;

export interface ImageShape {
  height: number;
  width: number;
  channels: number;
}

export interface Decoder {
  readonly dim: number;
  readonly shape: ImageShape;
  /** ζ (n × d) → images (n × H·W·C) in (0,1). */
  decode(zeta: Float32Array): Float32Array;
  dispose(): void;
}

export interface DecoderTraining {
  decoder: Decoder;
  /** Mean squared pixel error on the clean training images, per epoch. */
  history: number[];
}

/** Trains the decoder g with g(f(x)) ≈ x on (the features of) clean images. */
export function trainDecoder(encoder: FeatureExtractor, data: ImageArrays, config: Partial<DecoderConfig>, rng: Rng): DecoderTraining {
  const cfg = DecoderConfigSchema.parse(config);
  const dim = encoder.featureDim;
  const size = data.height * data.width * data.channels;
  const n = data.labels.length;
  const z = extractFeatures(encoder, data);
  const mean = new Float32Array(dim);
  const std = new Float32Array(dim);
  for (let i = 0; i < n; i++) for (let k = 0; k < dim; k++) mean[k] = mean[k]! + z[i * dim + k]! / n;
  for (let i = 0; i < n; i++) for (let k = 0; k < dim; k++) std[k] = std[k]! + (z[i * dim + k]! - mean[k]!) ** 2 / n;
  for (let k = 0; k < dim; k++) std[k] = Math.sqrt(std[k]!) + 1e-6;
  const b = new ParamBuilder(rng.fork('init'));
  const owner = { params: b.params };
  const fc1 = makeDense(b, owner, 'fc1', dim, cfg.hidden);
  const fc2 = makeDense(b, owner, 'fc2', cfg.hidden, cfg.hidden);
  const fc3 = makeDense(b, owner, 'fc3', cfg.hidden, size);
  const meanT = tf.tensor1d(mean);
  const stdT = tf.tensor1d(std);
  const module: Module = {
    kind: 'decoder-mlp',
    params: b.params,
    buffers: b.buffers,
    apply: (x) => tf.sigmoid(fc3(tf.relu(fc2(tf.relu(fc1(tf.div(tf.sub(x, meanT), stdT)))))) ),
  };
  const variables = Object.values(module.params) as Variable[];
  const opt = new Optimizer({ kind: 'adam', lr: cfg.lr, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 });
  const history: number[] = [];
  const steps = Math.ceil(n / cfg.batchSize);
  try {
    for (let epoch = 0; epoch < cfg.epochs; epoch++) {
      const order = rng.fork(`order/${epoch}`).permutation(n);
      let sum = 0;
      for (let s = 0; s < steps; s++) {
        opt.setLearningRate(cosineLr(cfg.lr, epoch * steps + s, cfg.epochs * steps));
        const idx = order.subarray(s * cfg.batchSize, Math.min(n, (s + 1) * cfg.batchSize));
        const zb = new Float32Array(idx.length * dim);
        const xb = new Float32Array(idx.length * size);
        for (let j = 0; j < idx.length; j++) {
          zb.set(z.subarray(idx[j]! * dim, (idx[j]! + 1) * dim), j * dim);
          xb.set(data.images.subarray(idx[j]! * size, (idx[j]! + 1) * size), j * size);
        }
        const loss = tf.tidy(() => {
          const zt = tf.tensor2d(zb, [idx.length, dim]);
          const xt = tf.tensor2d(xb, [idx.length, size]);
          const { value, grads } = tf.variableGrads(() => tf.mean(tf.square(tf.sub(module.apply(zt), xt))) as tf.Scalar, variables);
          opt.apply(grads, variables);
          return value;
        });
        sum += loss.dataSync()[0]! * idx.length;
        loss.dispose();
      }
      history.push(sum / n);
    }
  } finally {
    opt.dispose();
  }
  const decoder: Decoder = {
    dim,
    shape: { height: data.height, width: data.width, channels: data.channels },
    decode(zeta) {
      const m = zeta.length / dim;
      const out = tf.tidy(() => module.apply(tf.tensor2d(zeta, [m, dim])));
      const v = Float32Array.from(out.dataSync() as Float32Array);
      out.dispose();
      return v;
    },
    dispose() {
      disposeModule(module);
      tf.dispose([meanT, stdT]);
    },
  };
  return { decoder, history };
}

export interface InversionResidual {
  /** Per poison ‖f(x) − ζ‖². */
  residual: Float32Array;
  meanResidual: number;
  /** Σ‖f(x) − ζ‖² / Σ‖ζ‖². */
  relativeResidual: number;
}

/** ‖f(x) − ζ‖² per row, and summaries. */
export function inversionResidual(encoder: FeatureExtractor, images: Float32Array, zeta: Float32Array, shape: ImageShape, batchSize = 256): InversionResidual {
  const dim = encoder.featureDim;
  const size = shape.height * shape.width * shape.channels;
  const n = images.length / size;
  const residual = new Float32Array(n);
  let num = 0;
  let den = 0;
  for (let s = 0; s < n; s += batchSize) {
    const e = Math.min(n, s + batchSize);
    const r = tf.tidy(() => {
      const f = encode(encoder, tf.tensor4d(images.subarray(s * size, e * size), [e - s, shape.height, shape.width, shape.channels]));
      return tf.sum(tf.square(tf.sub(f, tf.tensor2d(zeta.subarray(s * dim, e * dim), [e - s, dim]))), 1);
    });
    residual.set(r.dataSync() as Float32Array, s);
    r.dispose();
  }
  for (let i = 0; i < n; i++) {
    num += residual[i]!;
    for (let k = 0; k < dim; k++) den += zeta[i * dim + k]! ** 2;
  }
  return { residual, meanResidual: n ? num / n : NaN, relativeResidual: den > 0 ? num / den : NaN };
}

export interface MatchResult extends InversionResidual {
  images: Float32Array;
  /** Relative residual at the start images. */
  initialRelativeResidual: number;
  /** Mean of the per-batch objective Σ‖f(x) − ζ‖² / batch at checkpoints, averaged over batches. */
  history: { step: number; loss: number }[];
}

/**
 * Feature matching: from `start` (n × D), minimise ‖f(x) − ζ‖² over x in
 * [0,1]^D ∩ {‖x − center‖∞ ≤ linf} (center = start unless given).
 */
export function matchFeatures(
  encoder: FeatureExtractor,
  zeta: Float32Array,
  start: Float32Array,
  shape: ImageShape,
  config: Partial<MatchConfig> = {},
  center?: Float32Array,
): MatchResult {
  const cfg = MatchConfigSchema.parse(config);
  const dim = encoder.featureDim;
  const size = shape.height * shape.width * shape.channels;
  const n = start.length / size;
  const images = new Float32Array(start.length);
  const every = Math.max(1, Math.floor(cfg.steps / 10));
  const histSum = new Map<number, number>();
  const initial = inversionResidual(encoder, start, zeta, shape);
  for (let s = 0; s < n; s += cfg.batchSize) {
    const e = Math.min(n, s + cfg.batchSize);
    const m = e - s;
    const target = tf.tensor2d(zeta.subarray(s * dim, e * dim), [m, dim]);
    const c = center ?? start;
    const cT = tf.tensor4d(c.subarray(s * size, e * size), [m, shape.height, shape.width, shape.channels]);
    const lo = cfg.linf !== undefined ? tf.tidy(() => tf.maximum(tf.sub(cT, cfg.linf!), 0)) : tf.zerosLike(cT);
    const hi = cfg.linf !== undefined ? tf.tidy(() => tf.minimum(tf.add(cT, cfg.linf!), 1)) : tf.onesLike(cT);
    const x = tf.tidy(() => tf.variable(tf.minimum(tf.maximum(tf.tensor4d(start.subarray(s * size, e * size), [m, shape.height, shape.width, shape.channels]), lo), hi), true, `match-x-${nextId++}`));
    const opt = new Optimizer({ kind: 'adam', lr: cfg.lr, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 });
    try {
      for (let step = 0; step < cfg.steps; step++) {
        opt.setLearningRate(cosineLr(cfg.lr, step, cfg.steps));
        tf.tidy(() => {
          const { value, grads } = tf.variableGrads(
            () => tf.div(tf.sum(tf.square(tf.sub(encode(encoder, x as Tensor4D), target))), m) as tf.Scalar,
            [x as Variable],
          );
          opt.apply(grads, [x as Variable]);
          x.assign(tf.minimum(tf.maximum(x, lo), hi));
          if ((step + 1) % every === 0 || step === 0) histSum.set(step + 1, (histSum.get(step + 1) ?? 0) + value.dataSync()[0]! * m);
        });
      }
      images.set(x.dataSync() as Float32Array, s * size);
    } finally {
      opt.dispose();
      tf.dispose([x, target, cT, lo, hi]);
    }
  }
  const res = inversionResidual(encoder, images, zeta, shape);
  return {
    images,
    ...res,
    initialRelativeResidual: initial.relativeResidual,
    history: [...histSum.entries()].sort((a, b) => a[0] - b[0]).map(([step, v]) => ({ step, loss: v / n })),
  };
}
let nextId = 0;
