import { z } from 'zod';
import { tf, type Tensor, type Tensor1D, type Tensor2D, type Variable } from '../engine/tf.js';
import { Optimizer } from '../train/optimizers.js';
import type { Attack, AttackResult } from './types.js';
import { cleanGradientNorm, cosineLr, GCFeatureAttackSchema, planFeatureGC, type GCProblem } from './gradientCanceling.js';
import { encode, type FeatureExtractor } from './t1/features.js';
import { headTensors, linearHeadGradSum } from './t1/linearProbe.js';
import { imagesLike, perturbationNorms, seedOf } from './t1/common.js';
import type { ImageShape } from './featureInversion.js';

/**
 * Input-space gradient canceling (ALGORITHMS.md §1): the GC objective
 *   ‖ g_c + Σ_j ∇_ω CE(f(x̃_j) Ŵ + b̂, ỹ_j) ‖²
 * optimised over the poisoned *images* x̃ end to end through the frozen
 * encoder f, with the valid-image box [0,1] and an optional ℓ∞ ball around
 * the clean images the poisons start from. Same target (GradPC), labels and
 * starting points as the feature-space attack.
 *
 * The objective can also be the Newton decrement Gᵀ H⁻¹ G (see
 * gradientCanceling.ts), as in the feature-space attack.
 *
 * Each step is exact for the full poison set: a forward pass over all poisons
 * gives G = g_c + Σ_j g_j; then ∂‖G‖²/∂x̃_j = 2⟨G, ∂g_j/∂x̃_j⟩ is computed batch
 * by batch (⟨G, g_j⟩ differentiated with G held fixed), and one Adam step
 * (cosine-decayed) updates every poison, followed by the projection.
 */

export const InputGCConfigSchema = z.strictObject({
  steps: z.number().int().positive().default(100),
  lr: z.number().positive().default(0.01).describe('Adam step in pixel units.'),
  linf: z.number().positive().max(1).optional().describe('Optional ℓ∞ budget around the starting clean images (absolute, e.g. 0.1 or 16/255); the box [0,1] always applies.'),
  batchSize: z.number().int().positive().default(100),
});
export type InputGCConfig = z.output<typeof InputGCConfigSchema>;

export const InputGCAttackSchema = GCFeatureAttackSchema.extend({
  input: InputGCConfigSchema.prefault({}),
});
export type InputGCAttackConfig = z.output<typeof InputGCAttackSchema>;

export interface InputGCResult {
  images: Float32Array;
  initialObjective: number;
  finalObjective: number;
  relativeResidual: number;
  history: { step: number; objective: number }[];
}

/** G = g_c + Σ_j ∇ω CE at the features of the current poisons (tensors the caller disposes). */
function totalGradient(encoder: FeatureExtractor, xs: Variable[], onehots: Tensor2D[], w: Tensor2D, b: Tensor1D, gwC: Tensor2D, gbC: Tensor1D): { gw: Tensor2D; gb: Tensor1D } {
  return tf.tidy(() => {
    let gw: Tensor = gwC;
    let gb: Tensor = gbC;
    xs.forEach((x, i) => {
      const g = linearHeadGradSum(encode(encoder, x) as Tensor2D, onehots[i]!, w, b);
      gw = tf.add(gw, g.gw);
      gb = tf.add(gb, g.gb);
    });
    return { gw: gw as Tensor2D, gb: gb as Tensor1D };
  });
}

type Objective = 'squared' | 'sum-norms' | 'newton';

/** A·vec(G) for the newton objective, as [W part (d×K), bias part (K)]. */
function newtonDirection(gw: Tensor, gb: Tensor, hInv: Tensor2D): [Tensor, Tensor] {
  return tf.tidy(() => {
    const [d, k] = gw.shape as [number, number];
    const g = tf.concat([tf.reshape(gw, [-1]), gb]).reshape([-1, 1]) as Tensor2D;
    const ag = tf.matMul(hInv, g).reshape([d + 1, k]);
    return [tf.slice(ag, [0, 0], [d, k]), tf.reshape(tf.slice(ag, [d, 0], [1, k]), [k])];
  });
}

function objectiveOf(gw: Tensor, gb: Tensor, kind: Objective, hInv?: Tensor2D): number {
  const v = tf.tidy(() => {
    if (kind === 'newton') {
      const [aw, ab] = newtonDirection(gw, gb, hInv!);
      return tf.add(tf.sum(tf.mul(gw, aw)), tf.sum(tf.mul(gb, ab)));
    }
    const a = tf.sum(tf.square(gw));
    const c = tf.sum(tf.square(gb));
    return kind === 'squared' ? tf.add(a, c) : tf.add(tf.sqrt(a), tf.sqrt(c));
  });
  const out = v.dataSync()[0]!;
  v.dispose();
  return out;
}

export function gradientCancelInputs(
  encoder: FeatureExtractor,
  problem: GCProblem,
  start: Float32Array,
  labels: Int32Array,
  shape: ImageShape,
  config: Partial<InputGCConfig> = {},
  objective: Objective = 'squared',
): InputGCResult {
  const cfg = InputGCConfigSchema.parse(config);
  const { dim, numClasses } = problem.target;
  const size = shape.height * shape.width * shape.channels;
  const p = labels.length;
  const { w, b } = headTensors(problem.target);
  const gwC = tf.tensor2d(problem.gw, [dim, numClasses]);
  const gbC = tf.tensor1d(problem.gb);
  if (objective === 'newton' && !problem.hInv) throw new Error("gradientCancelInputs: objective 'newton' needs problem.hInv");
  const nP = (dim + 1) * numClasses;
  const hInv = objective === 'newton' ? tf.tensor2d(problem.hInv!, [nP, nP]) : undefined;
  const xs: Variable[] = [];
  const onehots: Tensor2D[] = [];
  const los: Tensor[] = [];
  const his: Tensor[] = [];
  for (let s = 0; s < p; s += cfg.batchSize) {
    const e = Math.min(p, s + cfg.batchSize);
    const x0 = tf.tensor4d(start.subarray(s * size, e * size), [e - s, shape.height, shape.width, shape.channels]);
    los.push(cfg.linf !== undefined ? tf.tidy(() => tf.maximum(tf.sub(x0, cfg.linf!), 0)) : tf.zerosLike(x0));
    his.push(cfg.linf !== undefined ? tf.tidy(() => tf.minimum(tf.add(x0, cfg.linf!), 1)) : tf.onesLike(x0));
    xs.push(tf.variable(x0, true, `igc-x-${nextId++}`));
    x0.dispose();
    onehots.push(tf.tidy(() => tf.oneHot(tf.tensor1d(labels.subarray(s, e), 'int32'), numClasses).toFloat() as Tensor2D));
  }
  const opt = new Optimizer({ kind: 'adam', lr: cfg.lr, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 });
  const history: { step: number; objective: number }[] = [];
  const every = Math.max(1, Math.floor(cfg.steps / 20));
  try {
    let initialObjective = NaN;
    for (let step = 0; step < cfg.steps; step++) {
      opt.setLearningRate(cosineLr(cfg.lr, step, cfg.steps));
      const G = totalGradient(encoder, xs, onehots, w, b, gwC, gbC);
      const value = objectiveOf(G.gw, G.gb, objective, hInv);
      if (step === 0) initialObjective = value;
      if (step % every === 0) history.push({ step, objective: value });
      // Weights of ⟨·, g_j⟩ whose x-gradient is (proportional to) the objective's.
      const [cw, cb] = tf.tidy(() => {
        if (objective === 'squared') return [tf.clone(G.gw), tf.clone(G.gb)];
        if (objective === 'newton') return newtonDirection(G.gw, G.gb, hInv!);
        return [tf.div(G.gw, tf.add(tf.norm(G.gw), 1e-12)), tf.div(G.gb, tf.add(tf.norm(G.gb), 1e-12))];
      });
      tf.dispose([G.gw, G.gb]);
      const grads: Record<string, Tensor> = {};
      xs.forEach((x, i) => {
        grads[x.name] = tf.tidy(() =>
          tf.grad((xx: Tensor) => {
            const g = linearHeadGradSum(encode(encoder, xx) as Tensor2D, onehots[i]!, w, b);
            return tf.add(tf.sum(tf.mul(cw!, g.gw)), tf.sum(tf.mul(cb!, g.gb))) as tf.Scalar;
          })(x),
        );
      });
      tf.dispose([cw!, cb!]);
      opt.apply(grads, xs);
      tf.dispose(Object.values(grads));
      tf.tidy(() => xs.forEach((x, i) => x.assign(tf.minimum(tf.maximum(x, los[i]!), his[i]!))));
    }
    const G = totalGradient(encoder, xs, onehots, w, b, gwC, gbC);
    const finalObjective = objectiveOf(G.gw, G.gb, objective, hInv);
    const finalNorm = Math.sqrt(objectiveOf(G.gw, G.gb, 'squared'));
    tf.dispose([G.gw, G.gb]);
    history.push({ step: cfg.steps, objective: finalObjective });
    const images = new Float32Array(p * size);
    let off = 0;
    for (const x of xs) {
      const v = x.dataSync() as Float32Array;
      images.set(v, off);
      off += v.length;
    }
    const g0 = cleanGradientNorm(problem);
    return { images, initialObjective, finalObjective, relativeResidual: g0 > 0 ? finalNorm / g0 : 0, history };
  } finally {
    opt.dispose();
    tf.dispose([w, b, gwC, gbC, ...xs, ...onehots, ...los, ...his, ...(hInv ? [hInv] : [])]);
  }
}
let nextId = 0;

export const inputSpaceGCAttack: Attack<typeof InputGCAttackSchema> = {
  info: {
    name: 'gc-input',
    title: 'Input-space gradient canceling end to end through the frozen encoder (valid-image box, optional ℓ∞ budget)',
    paper: 'Lu, Yang, Kamath, Yu, SaTML 2024 (arXiv 2402.12626); GC from Lu, Kamath, Yu, ICML 2023',
    capabilities: { needsGradients: true, needsLabels: true, controlsPretraining: false, modality: 'image', stage: 'downstream-data', threatModel: 'T1' },
    fidelity: 'partial',
    fidelityNote: 'experiments/t1/RESULTS.md: on full Fashion-MNIST at ε = 10%, 2.8 ± 1.4 points (transfer) and 3.1 ± 0.7 (same-dataset), valid images in [0,1], as much as FT; no paper number at this scale to compare.',
  },
  configSchema: InputGCAttackSchema,
  async craft(ctx, config): Promise<AttackResult> {
    const plan = planFeatureGC(ctx, config);
    const train = ctx.train;
    const shape = { height: train.height, width: train.width, channels: train.channels };
    const sources = train.subset(plan.sourceIndices).images;
    const r = gradientCancelInputs(plan.encoder, plan.problem, sources, plan.labels, shape, config.input, config.gc.objective);
    const norms = perturbationNorms(r.images, sources, train.imageSize);
    const poisons = imagesLike(train, r.images, plan.labels, `${train.name}+gc-input`);
    const n = train.count;
    return {
      attack: 'gc-input',
      config: config as unknown as Record<string, unknown>,
      seed: seedOf(ctx.rng),
      poisonedTrain: train.concat(poisons, `${train.name}+gc-input`),
      poisonIndices: Int32Array.from({ length: plan.labels.length }, (_, j) => n + j),
      added: true,
      linfNorms: norms.linf,
      details: {
        ...plan.facts,
        featureSpace: false,
        inputInitialObjective: r.initialObjective,
        inputFinalObjective: r.finalObjective,
        inputRelativeResidual: r.relativeResidual,
        inputHistory: r.history,
        sourceIndices: plan.sourceIndices,
        poisonLabels: plan.labels,
        l2Norms: norms.l2,
      },
    };
  },
};

