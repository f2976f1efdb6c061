import { z } from 'zod';
import { tf, type Tensor, type Tensor1D, type Tensor2D, type Variable } from '../engine/tf.js';
import type { Rng } from '../engine/rng.js';
import { Optimizer } from '../train/optimizers.js';
import type { Attack, AttackContext, AttackResult } from './types.js';
import { extractFeatures, featureRange, featureSet, gatherRows, type FeatureExtractor, type FeatureSet } from './t1/features.js';
import { concatFeatures, headAccuracy, headTensors, linearHeadGradSum, trainLinearProbe, type HeadWeights } from './t1/linearProbe.js';
import { gradPC, GradPCConfigSchema, type GradPCResult } from './gradPC.js';
import { cleanHeadFromContext, encoderFromContext, poisonCount, scalarOf, seedOf, withLabels } from './t1/common.js';

/**
 * Gradient canceling (GC; Lu, Kamath, Yu, ICML 2023; ALGORITHMS.md §1) for a
 * linear head on frozen features. Given target parameters ω̂ = (Ŵ, b̂)
 * (from GradPC), choose P = εN poisoned points with fixed labels so that ω̂
 * is a stationary point of the victim's objective on clean ∪ poisons:
 *
 *   G(ζ) = g_c + Σ_j ∇_ω CE(ζ_j Ŵ + b̂, ỹ_j),
 *   g_c  = Σ_{i∈clean} ∇_ω CE(z_i Ŵ + b̂, y_i) + M·λ·(Ŵ, 0)      (M = N + P)
 *   min_ζ ‖G(ζ)‖²   (or Σ over tensors of ‖G_t‖, the later variant)
 *
 * The λ term makes ω̂ stationary for the victim's *regularised* objective
 * (mean CE + λ/2‖W‖²) rather than for the bare loss sum; with λ = 0 it is
 * the reference's objective. For a linear head ∇_W CE = ζᵀ(softmax − onehot)
 * and ∇_b CE = softmax − onehot, so G is computed in closed form (and checked
 * against tf.grad of the cross-entropy in the tests).
 *
 * In feature space ζ is optimised directly (Adam with a cosine-decayed step,
 * in coordinates normalised to the clean feature range) and clamped to the
 * per-dimension [min, max] of the clean features after every step.
 *
 * Where hemlock goes beyond the reference scripts (each an option; the
 * reference behaviour is one setting away):
 *  - labels 'need' (default) vs 'source': see choosePoisonStarts. With
 *    'source' labels and clamped features, the bias gradient alone usually
 *    cannot be cancelled and GC barely moves the victim (measured: < 1 point
 *    where 'need' gives 10, gradientCanceling.test.ts).
 *  - a list of GradPC radii (optionally relative to ‖ω_c‖), chosen by
 *    simulating the victim on the attacker's clean training set.
 *  - objective 'newton' (Gᵀ H⁻¹ G) and cancel 'weights' (W only, as the
 *    reference LR script): implemented, not better in our measurements.
 */

export const GCConfigSchema = z.strictObject({
  steps: z.number().int().positive().default(1000),
  lr: z.number().positive().default(0.05).describe('Adam step in units of each feature dimension\'s clean range.'),
  objective: z.enum(['squared', 'sum-norms', 'newton']).default('squared')
    .describe("‖G‖² over all head parameters (reference), ‖G_W‖ + ‖G_b‖ (later variant), or the Newton decrement Gᵀ H⁻¹ G with H the victim objective's Hessian at ω̂ on the clean data."),
  range: z.enum(['per-dimension', 'global']).default('per-dimension').describe('Box the poisoned features are clamped to: the clean features\' range.'),
  cancel: z.enum(['all', 'weights']).default('all').describe("Which part of the gradient is cancelled: all head parameters, or only W (the reference LR script cancels grad_c[0], the weight; the victim then refits the bias freely)."),
});
export type GCConfig = z.output<typeof GCConfigSchema>;

/** Tensors of a GC problem: the target head and the fixed clean gradient. */
export interface GCProblem {
  target: HeadWeights;
  /** Σ_clean ∇_W CE + M·λ·Ŵ  (dim × K) */
  gw: Float32Array;
  /** Σ_clean ∇_b CE  (K) */
  gb: Float32Array;
  /** The total number of training points M the victim averages over. */
  totalCount: number;
  l2: number;
  /** (d+1)K × (d+1)K inverse Hessian for the 'newton' objective (row-major; W rows then the bias row). */
  hInv?: Float32Array;
}

/** The fixed clean part g_c of the GC objective (sum reduction, plus the decay term for M points). */
export function gcProblem(clean: FeatureSet, numClasses: number, target: HeadWeights, l2: number, totalCount: number): GCProblem {
  const [gwT, gbT] = tf.tidy(() => {
    const { w, b } = headTensors(target);
    const onehot = tf.oneHot(tf.tensor1d(clean.labels, 'int32'), numClasses).toFloat() as Tensor2D;
    const { gw, gb } = linearHeadGradSum(tf.tensor2d(clean.z, [clean.count, clean.dim]), onehot, w, b);
    return [tf.add(gw, tf.mul(w, totalCount * l2)), gb];
  });
  const gw = gwT.dataSync() as Float32Array;
  const gb = gbT.dataSync() as Float32Array;
  tf.dispose([gwT, gbT]);
  return { target, gw: Float32Array.from(gw), gb: Float32Array.from(gb), totalCount, l2 };
}

/**
 * The GC objective for poisoned features ζ (P × d, a tensor), as a scalar
 * tensor differentiable in ζ. All tensor arguments are owned by the caller.
 */
export function gcObjectiveTensor(
  zeta: Tensor2D,
  onehot: Tensor2D,
  w: Tensor2D,
  b: Tensor1D,
  gwClean: Tensor2D,
  gbClean: Tensor1D,
  kind: GCConfig['objective'],
  hInv?: Tensor2D,
  cancel: GCConfig['cancel'] = 'all',
): tf.Scalar {
  return tf.tidy(() => {
    const { gw, gb } = linearHeadGradSum(zeta, onehot, w, b);
    const Gw = tf.add(gwClean, gw);
    const Gb = cancel === 'weights' ? tf.zerosLike(gbClean) : tf.add(gbClean, gb);
    if (kind === 'newton') {
      if (!hInv) throw new Error('gcObjectiveTensor: the newton objective needs the inverse Hessian');
      const g = tf.concat([tf.reshape(Gw, [-1]), Gb]).reshape([-1, 1]) as Tensor2D;
      return tf.sum(tf.mul(g, tf.matMul(hInv, g))) as tf.Scalar;
    }
    if (kind === 'squared') return tf.add(tf.sum(tf.square(Gw)), tf.sum(tf.square(Gb))) as tf.Scalar;
    return tf.add(tf.sqrt(tf.sum(tf.square(Gw))), tf.sqrt(tf.sum(tf.square(Gb)))) as tf.Scalar;
  });
}

/** The GC objective value (a number) for plain arrays. */
export function gcObjective(problem: GCProblem, zeta: Float32Array, labels: Int32Array, kind: GCConfig['objective'] = 'squared'): number {
  const { dim, numClasses } = problem.target;
  const v = tf.tidy(() => {
    const { w, b } = headTensors(problem.target);
    const onehot = tf.oneHot(tf.tensor1d(labels, 'int32'), numClasses).toFloat() as Tensor2D;
    const n = (dim + 1) * numClasses;
    const hInv = problem.hInv ? tf.tensor2d(problem.hInv, [n, n]) : undefined;
    return gcObjectiveTensor(tf.tensor2d(zeta, [labels.length, dim]), onehot, w, b, tf.tensor2d(problem.gw, [dim, numClasses]), tf.tensor1d(problem.gb), kind, hInv);
  });
  const out = v.dataSync()[0]!;
  v.dispose();
  return out;
}

/**
 * Σ_c max(0, g_b[c]) of the clean bias gradient g_b = Σ_clean (p_i − y_i) at
 * the target: a lower bound on the number of poisons GC needs. The bias is not
 * decayed, so ω̂ is stationary only if the poisons' bias gradient
 * Σ_j (p_j − y_j) cancels g_b; a poison of label c lowers component c by at
 * most 1 (and raises the class it is predicted as by as much), so a target
 * whose excess Σ_c max(0, g_b[c]) exceeds the poison count P cannot be made
 * stationary by any P points, whatever box or optimiser. GradPC's targets
 * mostly shift predictions towards one class, so this excess grows fast with
 * the radius and caps the reachable targets (experiments/t1/RESULTS.md).
 */
export function biasExcess(problem: GCProblem): number {
  let s = 0;
  for (const v of problem.gb) s += Math.max(0, v);
  return s;
}

/** ‖g_c‖ — the objective's value with no poisons (for the relative residual). */
export function cleanGradientNorm(problem: GCProblem): number {
  let s = 0;
  for (const v of problem.gw) s += v * v;
  for (const v of problem.gb) s += v * v;
  return Math.sqrt(s);
}

/**
 * Hessian of the victim objective Σ_clean CE + (Mλ/2)‖W‖² at the target,
 * over the parameters θ = [W; b] ((d+1)·K, W rows then the bias row):
 *   H = Σ_i (diag p_i − p_i p_iᵀ) ⊗ z̃_i z̃_iᵀ + Mλ·I_W,   z̃ = [z, 1],
 * inverted by Cholesky (a tiny ridge keeps it positive definite), for the
 * 'newton' objective Gᵀ H⁻¹ G: the victim's loss gap at ω̂ to second order,
 * which weighs the flat directions where a small gradient still means the
 * victim's solution lands far from ω̂.
 */
export function withInverseHessian(problem: GCProblem, clean: FeatureSet): GCProblem {
  const { dim, numClasses: k } = problem.target;
  const d1 = dim + 1;
  const n = d1 * k;
  const blocks = tf.tidy(() => {
    const { w, b } = headTensors(problem.target);
    const z = tf.tensor2d(clean.z, [clean.count, dim]);
    const zt = tf.concat([z, tf.ones([clean.count, 1])], 1) as Tensor2D;
    const p = tf.softmax(tf.add(tf.matMul(z, w), b));
    const out: Tensor[] = [];
    for (let a = 0; a < k; a++) {
      const pa = tf.slice(p, [0, a], [-1, 1]);
      for (let c = a; c < k; c++) {
        const pc = tf.slice(p, [0, c], [-1, 1]);
        const s = a === c ? tf.mul(pa, tf.sub(1, pa)) : tf.neg(tf.mul(pa, pc));
        out.push(tf.matMul(tf.mul(zt, s), zt, true, false));
      }
    }
    return out;
  });
  const H = new Float64Array(n * n);
  let bi = 0;
  for (let a = 0; a < k; a++)
    for (let c = a; c < k; c++) {
      const v = blocks[bi++]!.dataSync();
      for (let i = 0; i < d1; i++)
        for (let j = 0; j < d1; j++) {
          // θ index of (row i, class a) is i·K + a.
          H[(i * k + a) * n + (j * k + c)] = v[i * d1 + j]!;
          H[(j * k + c) * n + (i * k + a)] = v[i * d1 + j]!;
        }
    }
  tf.dispose(blocks);
  let trace = 0;
  for (let i = 0; i < n; i++) {
    if (Math.floor(i / k) < dim) H[i * n + i] = H[i * n + i]! + problem.totalCount * problem.l2;
    trace += H[i * n + i]!;
  }
  // Softmax is invariant to adding a constant to all logits: H is singular along
  // those directions without decay; a ridge of 1e-6·mean diagonal fixes that.
  const ridge = 1e-6 * (trace / n) + 1e-9;
  for (let i = 0; i < n; i++) H[i * n + i] = H[i * n + i]! + ridge;
  return { ...problem, hInv: Float32Array.from(invertSpd(H, n)) };
}

/** Inverse of a symmetric positive definite matrix (row-major) by Cholesky. */
export function invertSpd(a: Float64Array, n: number): Float64Array {
  const L = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    let s = a[j * n + j]!;
    for (let q = 0; q < j; q++) s -= L[j * n + q]! ** 2;
    if (!(s > 0)) throw new Error(`invertSpd: matrix is not positive definite (pivot ${j}: ${s})`);
    const ljj = Math.sqrt(s);
    L[j * n + j] = ljj;
    for (let i = j + 1; i < n; i++) {
      let t = a[i * n + j]!;
      for (let q = 0; q < j; q++) t -= L[i * n + q]! * L[j * n + q]!;
      L[i * n + j] = t / ljj;
    }
  }
  // inv(L) (lower triangular), then inv(A) = inv(L)ᵀ inv(L).
  const Li = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    Li[i * n + i] = 1 / L[i * n + i]!;
    for (let j = 0; j < i; j++) {
      let t = 0;
      for (let q = j; q < i; q++) t -= L[i * n + q]! * Li[q * n + j]!;
      Li[i * n + j] = t / L[i * n + i]!;
    }
  }
  const inv = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j <= i; j++) {
      let t = 0;
      for (let q = i; q < n; q++) t += Li[q * n + i]! * Li[q * n + j]!;
      inv[i * n + j] = t;
      inv[j * n + i] = t;
    }
  return inv;
}

export interface GCResult {
  zeta: Float32Array;
  labels: Int32Array;
  initialObjective: number;
  finalObjective: number;
  /** ‖G(ζ)‖ / ‖g_c‖ at the end (1 = no better than adding nothing). */
  relativeResidual: number;
  history: { step: number; objective: number }[];
}

/** ‖(W, b)‖₂ of a head. */
export function headNorm(h: HeadWeights): number {
  let s = 0;
  for (const v of h.w) s += v * v;
  for (const v of h.b) s += v * v;
  return Math.sqrt(s);
}

/** Cosine decay from lr to 0 over `total` steps. */
export function cosineLr(lr: number, step: number, total: number): number {
  return lr * 0.5 * (1 + Math.cos((Math.PI * step) / total));
}

/**
 * Optimises poisoned features ζ (starting from `init`, labels fixed) to
 * minimise the GC objective, clamped to [lo, hi] per dimension.
 */
export function gradientCancelFeatures(problem: GCProblem, init: Float32Array, labels: Int32Array, box: { lo: Float32Array; hi: Float32Array }, config: Partial<GCConfig> = {}): GCResult {
  const cfg = GCConfigSchema.parse(config);
  const { dim, numClasses } = problem.target;
  const p = labels.length;
  const span = box.hi.map((h, k) => h - box.lo[k]!);
  const { w, b } = headTensors(problem.target);
  const gwClean = tf.tensor2d(problem.gw, [dim, numClasses]);
  const gbClean = tf.tensor1d(problem.gb);
  const onehot = tf.tidy(() => tf.oneHot(tf.tensor1d(labels, 'int32'), numClasses).toFloat() as Tensor2D);
  const loT = tf.tensor1d(box.lo);
  const spanT = tf.tensor1d(span);
  if (cfg.objective === 'newton' && !problem.hInv) throw new Error("gradientCancelFeatures: objective 'newton' needs problem.hInv (withInverseHessian)");
  const nP = (dim + 1) * numClasses;
  const hInvT = problem.hInv ? tf.tensor2d(problem.hInv, [nP, nP]) : undefined;
  // u ∈ [0,1]^d: ζ = lo + u ⊙ span.
  const u0 = new Float32Array(init.length);
  for (let i = 0; i < p; i++)
    for (let k = 0; k < dim; k++) {
      const s = span[k]!;
      u0[i * dim + k] = s > 0 ? Math.min(1, Math.max(0, (init[i * dim + k]! - box.lo[k]!) / s)) : 0;
    }
  const u = tf.tidy(() => tf.variable(tf.tensor2d(u0, [p, dim]), true, `gc-u-${nextId++}`));
  const opt = new Optimizer({ kind: 'adam', lr: cfg.lr, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 });
  const zetaOf = (uu: Tensor) => tf.add(loT, tf.mul(uu, spanT)) as Tensor2D;
  const objective = () => gcObjectiveTensor(zetaOf(u), onehot, w, b, gwClean, gbClean, cfg.objective, hInvT, cfg.cancel);
  const history: { step: number; objective: number }[] = [];
  try {
    const initialObjective = scalarOf(objective);
    history.push({ step: 0, objective: initialObjective });
    const every = Math.max(1, Math.floor(cfg.steps / 20));
    for (let step = 0; step < cfg.steps; step++) {
      opt.setLearningRate(cosineLr(cfg.lr, step, cfg.steps));
      tf.tidy(() => {
        const { value, grads } = tf.variableGrads(objective, [u as Variable]);
        opt.apply(grads, [u as Variable]);
        u.assign(tf.clipByValue(u, 0, 1));
        if ((step + 1) % every === 0 || step === cfg.steps - 1) history.push({ step: step + 1, objective: value.dataSync()[0]! });
      });
    }
    const finalObjective = scalarOf(objective);
    const zetaT = tf.tidy(() => zetaOf(u));
    const zeta = Float32Array.from(zetaT.dataSync() as Float32Array);
    zetaT.dispose();
    const g0 = cleanGradientNorm(problem);
    // The relative residual is always ‖G‖/‖g_c‖ (comparable across objectives).
    const finalNorm = Math.sqrt(gcObjective({ ...problem, hInv: undefined }, zeta, labels, 'squared'));
    return { zeta, labels, initialObjective, finalObjective, relativeResidual: g0 > 0 ? finalNorm / g0 : 0, history };
  } finally {
    opt.dispose();
    tf.dispose([u, w, b, gwClean, gbClean, onehot, loT, spanT, ...(hInvT ? [hInvT] : [])]);
  }
}
let nextId = 0;

/**
 * Poison labels and starting points. 'source': copies of εN random clean
 * points with their own labels (the reference scripts). 'need': the labels
 * are fixed too, but allocated to where the target needs them: GC must
 * cancel the clean bias gradient g_b = Σ_i (p_i − y_i), and a poison of
 * label c adds at most −1 to component c (and at most +1 to the class it is
 * predicted as). So the classes the target over-predicts (g_b[c] > 0) get
 * labels ∝ g_b[c], and the starting points are drawn from the
 * under-predicted classes (g_b[c] < 0) ∝ −g_b[c]. With 'source' labels the
 * bias gradient alone often cannot be cancelled within εN points.
 */
export type LabelStrategy = 'source' | 'need';

/** Largest-remainder allocation of `total` items ∝ weights. */
export function allocate(weights: number[], total: number): number[] {
  const sum = weights.reduce((a, b) => a + b, 0);
  if (!(sum > 0)) return weights.map(() => 0);
  const raw = weights.map((w) => (w / sum) * total);
  const out = raw.map(Math.floor);
  let rem = total - out.reduce((a, b) => a + b, 0);
  const order = raw.map((v, i) => [v - out[i]!, i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (const [, i] of order) {
    if (rem <= 0) break;
    out[i]!++;
    rem--;
  }
  return out;
}

export function choosePoisonStarts(labelsOfClean: Int32Array, numClasses: number, p: number, strategy: LabelStrategy, gb: Float32Array, rng: Rng): { sourceIndices: Int32Array; labels: Int32Array } {
  const n = labelsOfClean.length;
  const pos = Array.from(gb, (v) => Math.max(0, v));
  const neg = Array.from(gb, (v) => Math.max(0, -v));
  if (strategy === 'source' || !(pos.some((v) => v > 0) && neg.some((v) => v > 0))) {
    const sourceIndices = rng.fork('sources').sample(n, p);
    return { sourceIndices, labels: Int32Array.from(sourceIndices, (i) => labelsOfClean[i]!) };
  }
  const labelCounts = allocate(pos, p);
  const sourceCounts = allocate(neg, p);
  const byClass: number[][] = Array.from({ length: numClasses }, () => []);
  for (let i = 0; i < n; i++) byClass[labelsOfClean[i]!]!.push(i);
  const sr = rng.fork('sources');
  const sources: number[] = [];
  sourceCounts.forEach((m, c) => {
    const members = byClass[c]!;
    const perm = sr.permutation(members.length);
    for (let q = 0; q < m; q++) sources.push(members[perm[q % members.length]!]!);
  });
  const labels: number[] = [];
  labelCounts.forEach((m, c) => {
    for (let q = 0; q < m; q++) labels.push(c);
  });
  const lab = Int32Array.from(labels);
  rng.fork('pairing').shuffle(lab);
  return { sourceIndices: Int32Array.from(sources), labels: lab };
}

export const VictimSimSchema = z.strictObject({
  l2: z.number().min(0).default(1e-3).describe("λ of the victim's (λ/2)‖W‖² penalty; the T1 runner sets it from probe.l2."),
  maxIter: z.number().int().positive().default(300).describe('L-BFGS iterations when the attacker simulates the victim to choose among target radii.'),
});

export const GCFeatureAttackSchema = z.strictObject({
  epsilon: z.number().gt(0).lt(1).default(0.03).describe('Poison budget as a fraction of the clean training set (εN points added).'),
  targetParams: GradPCConfigSchema.extend({
    radius: z.union([z.number().positive(), z.array(z.number().positive()).min(1)]).default(0.05)
      .describe('η, or a list of candidates: the attacker runs GC for each, simulates the victim on its own clean set + poisons, and keeps the candidate with the lowest clean-training accuracy.'),
    relativeRadius: z.boolean().default(false).describe('Read radius as a fraction of ‖ω_c‖₂ (the clean head\'s norm), so one setting fits encoders whose features differ in scale.'),
  }).prefault({}),
  labels: z.enum(['source', 'need']).default('need').describe("Poison labels: 'source' (copies keep their labels, as the reference) or 'need' (allocated by the target's bias gradient)."),
  gc: GCConfigSchema.prefault({}),
  victim: VictimSimSchema.prefault({}),
});
export type GCFeatureAttackConfig = z.output<typeof GCFeatureAttackSchema>;

/** What the feature-space stages of GC, FT and input-space GC share. */
export interface GCPlan {
  encoder: FeatureExtractor;
  clean: FeatureSet;
  cleanHead: HeadWeights;
  gradpc: GradPCResult;
  radius: number;
  problem: GCProblem;
  box: { lo: Float32Array; hi: Float32Array };
  /** Indices into the clean training set of the points the poisons start from. */
  sourceIndices: Int32Array;
  labels: Int32Array;
  /** GC in feature space for this plan. */
  gcResult: GCResult;
  facts: Record<string, unknown>;
}

/**
 * The shared front of the T1 model-targeted attacks: features of the clean
 * set, the clean head (the context's model head), a GradPC target, the
 * poisons' labels and starting points, and GC in feature space (clamped to
 * the clean feature range). With several candidate radii the attacker
 * simulates the victim (retrains the probe on clean ∪ ζ) for each and keeps
 * the one with the lowest accuracy on its clean training set — no test data.
 */
export function planFeatureGC(ctx: AttackContext, cfg: GCFeatureAttackConfig): GCPlan {
  // Deterministic in (data, model, seed, the options below): memoised, so the
  // gc-feature, ft and gc-input attacks of one run share one plan (and are
  // compared on the very same target, labels and ζ).
  const key = JSON.stringify([String(ctx.rng.seed), cfg.epsilon, cfg.targetParams, cfg.labels, cfg.gc, cfg.victim]);
  const owner = ctx.model ?? ctx.train;
  let byModel = planCache.get(ctx.train);
  if (!byModel) planCache.set(ctx.train, (byModel = new WeakMap()));
  let plans = byModel.get(owner);
  if (!plans) byModel.set(owner, (plans = new Map()));
  const hit = plans.get(key);
  if (hit) return hit;
  const plan = computePlan(ctx, cfg);
  plans.set(key, plan);
  return plan;
}

const planCache = new WeakMap<object, WeakMap<object, Map<string, GCPlan>>>();

function computePlan(ctx: AttackContext, cfg: GCFeatureAttackConfig): GCPlan {
  const encoder = encoderFromContext(ctx);
  const cleanHead = cleanHeadFromContext(ctx);
  const train = ctx.train;
  const clean = featureSet(extractFeatures(encoder, train), train.labels, encoder.featureDim);
  const k = train.numClasses;
  const p = poisonCount(cfg.epsilon, train.count);
  const radii = Array.isArray(cfg.targetParams.radius) ? cfg.targetParams.radius : [cfg.targetParams.radius];
  const box = featureRange(clean, cfg.gc.range);
  const candidates: Record<string, unknown>[] = [];
  let best: (GCPlan & { score: number }) | null = null;
  for (const radius of radii) {
    const eta = cfg.targetParams.relativeRadius ? radius * headNorm(cleanHead) : radius;
    const { radius: _radius, relativeRadius: _relative, ...walk } = cfg.targetParams;
    const gradpc = gradPC(clean, k, cleanHead, { ...walk, radius: eta }, ctx.rng.fork('gradpc'));
    const base = gcProblem(clean, k, gradpc.target, cfg.victim.l2, train.count + p);
    const problem = cfg.gc.objective === 'newton' ? withInverseHessian(base, clean) : base;
    const { sourceIndices, labels } = choosePoisonStarts(train.labels, k, p, cfg.labels, problem.gb, ctx.rng);
    const gcResult = gradientCancelFeatures(problem, gatherRows(clean.z, clean.dim, sourceIndices), labels, box, cfg.gc);
    let score = NaN;
    if (radii.length > 1) {
      const sim = trainLinearProbe(concatFeatures(clean, featureSet(gcResult.zeta, labels, clean.dim)), k, { l2: cfg.victim.l2, maxIter: cfg.victim.maxIter });
      score = headAccuracy(sim.head, clean);
    }
    const targetTrainAccuracy = headAccuracy(gradpc.target, clean);
    const excess = biasExcess(problem);
    candidates.push({ radius, eta, targetTrainAccuracy, targetBiasExcess: excess, gcRelativeResidual: gcResult.relativeResidual, simulatedCleanTrainAccuracy: score });
    if (!best || score < best.score) {
      best = {
        encoder, clean, cleanHead, gradpc, radius, problem, box, sourceIndices, labels, gcResult, score,
        facts: {
          poisonCount: p,
          radius,
          eta,
          cleanHeadNorm: headNorm(cleanHead),
          cleanTrainAccuracy: headAccuracy(cleanHead, clean),
          targetTrainAccuracy,
          // > poisonCount: the target is out of reach of any P poisons (see biasExcess).
          targetBiasExcess: excess,
          targetDistanceL2: gradpc.distanceL2,
          targetDistanceLinf: gradpc.distanceLinf,
          gcInitialObjective: gcResult.initialObjective,
          gcFinalObjective: gcResult.finalObjective,
          gcRelativeResidual: gcResult.relativeResidual,
        },
      };
    }
  }
  const { score: _score, ...plan } = best!;
  plan.facts = { ...plan.facts, ...(radii.length > 1 ? { radiusCandidates: candidates } : {}) };
  return plan;
}

export const gcFeatureAttack: Attack<typeof GCFeatureAttackSchema> = {
  info: {
    name: 'gc-feature',
    title: 'Gradient canceling in feature space (GradPC target, poisoned features clamped to the clean range)',
    paper: 'Lu, Kamath, Yu, ICML 2023; Lu, Yang, Kamath, Yu, SaTML 2024 (arXiv 2402.12626)',
    capabilities: { needsGradients: true, needsLabels: true, controlsPretraining: false, modality: 'image', stage: 'downstream-data', threatModel: 'T1' },
    fidelity: 'partial',
    fidelityNote: "experiments/t1/RESULTS.md: the largest drop of the T1 attacks on full Fashion-MNIST (SimCLR ConvNet-S, 3 seeds, ε = 10%: 4.1 ± 1.1 points transfer, 3.8 ± 0.4 same-dataset) and a ≥ 10-point tiny-data effect test; the paper's CIFAR-scale magnitudes are not reproduced (the audit there shows P = εN poisons cannot reach more damaging targets here).",
  },
  configSchema: GCFeatureAttackSchema,
  async craft(ctx, config): Promise<AttackResult> {
    const fp = planFeatureGC(ctx, config);
    const placeholders = withLabels(ctx.train.subset(fp.sourceIndices), fp.labels);
    const poisonedTrain = ctx.train.concat(placeholders, `${ctx.train.name}+gc-feature`);
    const n = ctx.train.count;
    return {
      attack: 'gc-feature',
      config: config as unknown as Record<string, unknown>,
      seed: seedOf(ctx.rng),
      poisonedTrain,
      poisonIndices: Int32Array.from({ length: fp.sourceIndices.length }, (_, j) => n + j),
      added: true,
      details: {
        ...fp.facts,
        // The poisons are features, not images: the images in poisonedTrain are
        // only the clean points GC started from (with the poison labels).
        // Evaluate with poisonFeatures.
        featureSpace: true,
        poisonFeatures: fp.gcResult.zeta,
        featureDim: fp.clean.dim,
        sourceIndices: fp.sourceIndices,
        poisonLabels: fp.labels,
        gcHistory: fp.gcResult.history,
      },
    };
  },
};

