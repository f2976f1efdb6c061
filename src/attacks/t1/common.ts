import { tf, type Tensor } from '../../engine/tf.js';
import type { Rng } from '../../engine/rng.js';
import { HemlockInputError } from '../../engine/errors.js';
import type { AttackContext } from '../types.js';
import { ImageDataset } from '../../data/dataset.js';
import type { FeatureExtractor } from './features.js';
import type { HeadWeights } from './linearProbe.js';

/** εN rounded to the nearest integer, at least 1 for ε > 0. */
export function poisonCount(epsilon: number, n: number): number {
  if (!(epsilon > 0)) throw new HemlockInputError(`attack.epsilon: expected a budget > 0, got ${epsilon}`);
  return Math.max(1, Math.round(epsilon * n));
}

/** The frozen encoder of a T1 context: the body of `ctx.model`. */
export function encoderFromContext(ctx: AttackContext): FeatureExtractor {
  if (!ctx.model) throw new HemlockInputError('attack: this T1 attack needs the victim model (encoder + clean head) in its context');
  return ctx.model.body;
}

/** The clean linear head of `ctx.model` (parameters fc/kernel [d, K] and fc/bias [K]). */
export function cleanHeadFromContext(ctx: AttackContext): HeadWeights {
  if (!ctx.model) throw new HemlockInputError('attack: this T1 attack needs the victim model (encoder + clean head) in its context');
  const kernel = ctx.model.head.params['fc/kernel'];
  const bias = ctx.model.head.params['fc/bias'];
  if (!kernel || !bias || kernel.rank !== 2) throw new HemlockInputError(`attack: T1 attacks need a linear head (got '${ctx.model.head.kind}')`);
  const [dim, numClasses] = kernel.shape as [number, number];
  return { w: Float32Array.from(kernel.dataSync() as Float32Array), b: Float32Array.from(bias.dataSync() as Float32Array), dim, numClasses };
}

/** Runs fn in a tidy scope and returns its scalar value as a number (nothing leaks). */
export function scalarOf(fn: () => Tensor): number {
  const t = tf.tidy(fn);
  const v = t.dataSync()[0]!;
  t.dispose();
  return v;
}

/** The integer seed an Rng was made from (the T1 runner makes it from the run's seed). */
export function seedOf(rng: Rng): number {
  if (typeof rng.seed === 'number') return rng.seed;
  const s = Number(String(rng.seed).split('/')[0]);
  return Number.isFinite(s) ? s : 0;
}

/** ℓ∞ and ℓ2 distance of each poison image to the image it started from. */
export function perturbationNorms(poisons: Float32Array, sources: Float32Array, size: number): { linf: Float32Array; l2: Float32Array } {
  const n = poisons.length / size;
  const linf = new Float32Array(n);
  const l2 = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let m = 0;
    let s = 0;
    for (let k = i * size; k < (i + 1) * size; k++) {
      const d = poisons[k]! - sources[k]!;
      m = Math.max(m, Math.abs(d));
      s += d * d;
    }
    linf[i] = m;
    l2[i] = Math.sqrt(s);
  }
  return { linf, l2 };
}

/** The same images with other labels (pixels already validated). */
export function withLabels(d: ImageDataset, labels: Int32Array, name?: string): ImageDataset {
  return new ImageDataset(
    { images: d.images, labels, height: d.height, width: d.width, channels: d.channels, classNames: d.classNames, name: name ?? d.name },
    { trustedPixels: true },
  );
}

/** A dataset of new images (validated: every pixel must be in [0,1]) with the given labels and the classes of `like`. */
export function imagesLike(like: ImageDataset, images: Float32Array, labels: Int32Array, name: string): ImageDataset {
  return new ImageDataset({ images, labels, height: like.height, width: like.width, channels: like.channels, classNames: like.classNames, name });
}
