import { z } from 'zod';
import { tf, type Tensor2D } from '../engine/tf.js';
import type { Rng } from '../engine/rng.js';
import type { FeatureSet } from './t1/features.js';
import { flattenHead, headTensors, linearHeadGradSum, unflattenHead, type HeadWeights } from './t1/linearProbe.js';

/**
 * GradPC — target parameters for a model-targeted indiscriminate attack
 * (Lu, Kamath, Yu, ICML 2023; ALGORITHMS.md §1, `GradPC/attacker.py` of
 * watml/plim). Starting from the clean head ω_c it walks *up* the training
 * loss for one pass over minibatches of the clean data, with a normalised
 * step, and keeps the offset inside a ball of radius η:
 *
 *   a ← 0;  for each minibatch B:
 *     g ← ∇_ω mean CE(B; ω_c + a);  g ← g/‖g‖₂  (ℓ∞: sign g)
 *     a ← a + lr·g;  a ← Π_{‖a‖ ≤ η}(a)
 *   ω̂ = ω_c + a
 *
 * ω = (W, b) of the linear head, concatenated; the ℓ2 norm is global.
 * The result is a head that is bad on the clean data yet close to ω_c, so a
 * small poisoned set can make it the victim's solution (gradient canceling).
 */

export const GradPCConfigSchema = z.strictObject({
  norm: z.enum(['l2', 'linf']).default('l2').describe('Ball of the parameter offset a = ω̂ − ω_c.'),
  radius: z.number().positive().default(0.5).describe('η: ‖a‖₂ ≤ η (or |a_i| ≤ η for linf).'),
  lr: z.number().positive().optional().describe('Step per minibatch (default η/10 for l2, η/20 for linf).'),
  epochs: z.number().int().positive().default(1).describe('Passes over the clean training set (the reference makes one).'),
  batchSize: z.number().int().positive().default(64),
  params: z.enum(['all', 'weights']).default('all').describe("Which head parameters move: 'all' (W and b, the reference) or 'weights' (b stays at the clean value)."),
});
export type GradPCConfig = z.output<typeof GradPCConfigSchema>;

export interface GradPCResult {
  target: HeadWeights;
  /** ‖ω̂ − ω_c‖₂ and ‖ω̂ − ω_c‖∞. */
  distanceL2: number;
  distanceLinf: number;
  steps: number;
}

/** In-place projection of a onto {‖a‖₂ ≤ η}. */
export function projectL2(a: Float64Array, radius: number): Float64Array {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * a[i]!;
  const n = Math.sqrt(s);
  if (n > radius) for (let i = 0; i < a.length; i++) a[i] = (a[i]! * radius) / n;
  return a;
}

/** In-place projection of a onto {‖a‖∞ ≤ η}. */
export function projectLinf(a: Float64Array, radius: number): Float64Array {
  for (let i = 0; i < a.length; i++) a[i] = Math.min(radius, Math.max(-radius, a[i]!));
  return a;
}

export function gradPC(features: FeatureSet, numClasses: number, clean: HeadWeights, config: Partial<GradPCConfig>, rng: Rng): GradPCResult {
  const cfg = GradPCConfigSchema.parse(config);
  const lr = cfg.lr ?? (cfg.norm === 'l2' ? cfg.radius / 10 : cfg.radius / 20);
  const base = flattenHead(clean);
  const a = new Float64Array(base.length);
  const { dim } = features;
  let steps = 0;
  for (let epoch = 0; epoch < cfg.epochs; epoch++) {
    const order = rng.fork(`gradpc/order/${epoch}`).permutation(features.count);
    for (let s = 0; s < features.count; s += cfg.batchSize) {
      const idx = order.subarray(s, Math.min(features.count, s + cfg.batchSize));
      const zb = new Float32Array(idx.length * dim);
      const yb = new Int32Array(idx.length);
      for (let j = 0; j < idx.length; j++) {
        zb.set(features.z.subarray(idx[j]! * dim, (idx[j]! + 1) * dim), j * dim);
        yb[j] = features.labels[idx[j]!]!;
      }
      const cur = unflattenHead(base.map((v, i) => v + a[i]!), dim, numClasses);
      const g = tf.tidy(() => {
        const { w, b } = headTensors(cur);
        const onehot = tf.oneHot(tf.tensor1d(yb, 'int32'), numClasses).toFloat() as Tensor2D;
        const { gw, gb } = linearHeadGradSum(tf.tensor2d(zb, [idx.length, dim]), onehot, w, b);
        return tf.concat([gw.flatten(), gb]);
      });
      const gv = Float32Array.from(g.dataSync() as Float32Array);
      g.dispose();
      if (cfg.params === 'weights') gv.fill(0, dim * numClasses);
      if (cfg.norm === 'l2') {
        let n = 0;
        for (let i = 0; i < gv.length; i++) n += gv[i]! * gv[i]!;
        n = Math.sqrt(n);
        if (n > 0) for (let i = 0; i < a.length; i++) a[i] = a[i]! + (lr * gv[i]!) / n;
        projectL2(a, cfg.radius);
      } else {
        for (let i = 0; i < a.length; i++) a[i] = a[i]! + lr * Math.sign(gv[i]!);
        projectLinf(a, cfg.radius);
      }
      steps++;
    }
  }
  let l2 = 0;
  let linf = 0;
  for (let i = 0; i < a.length; i++) {
    l2 += a[i]! * a[i]!;
    linf = Math.max(linf, Math.abs(a[i]!));
  }
  return { target: unflattenHead(base.map((v, i) => v + a[i]!), dim, numClasses), distanceL2: Math.sqrt(l2), distanceLinf: linf, steps };
}
