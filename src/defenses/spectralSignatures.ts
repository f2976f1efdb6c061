import { z } from 'zod';
import { HemlockInputError } from '../engine/errors.js';
import type { Rng } from '../engine/rng.js';
import type { Classifier } from '../models/classifier.js';
import { extractFeatures } from '../attacks/t1/features.js';
import type { AttackResult } from '../attacks/types.js';
import type { DetectionDefense, DetectionResult } from './types.js';

/**
 * Spectral signatures (Tran, Li, Madry, NeurIPS 2018). For each class (by the
 * labels of the poisoned training set, which is all the defender sees), the
 * penultimate features of its samples are centred; a backdoor leaves a
 * direction along which the poisons stand apart, found as the top right
 * singular vector v of the centred matrix (computed here as the top
 * eigenvector of its d×d scatter matrix by seeded power iteration). A sample's
 * score is its squared projection ⟨x − μ, v⟩²; the 1.5·ε·n_c highest scores of
 * each class are removed.
 *
 * Scores are compared across classes only by the AUROC over the whole
 * training set (removal is per class, as in the paper). `normalize` divides
 * each class's scores by their mean (λ₁/n_c); on our small measurements the
 * raw scores gave the higher AUROC, so it is off by default.
 */
export const SpectralSignaturesSchema = z.strictObject({
  epsilon: z.number().gt(0).lt(1).default(0.05)
    .describe("Expected fraction ε of poisons among a class's samples (Tran et al.'s ε); 1.5·ε·n_c samples are removed per class."),
  removalFactor: z.number().positive().default(1.5).describe('The 1.5 of 1.5·ε·n_c.'),
  normalize: z.boolean().default(false).describe("Divide each class's scores by their mean (removal is per class either way)."),
  batchSize: z.number().int().positive().default(256).describe('Batch size of the feature pass.'),
});
export type SpectralSignaturesConfig = z.output<typeof SpectralSignaturesSchema>;

// ---- small dense linear algebra in float64 (d ≤ a few hundred) ----

/** Indices of the samples with each label, by class. */
export function indicesByClass(labels: Int32Array, numClasses: number): Int32Array[] {
  const lists: number[][] = Array.from({ length: numClasses }, () => []);
  for (let i = 0; i < labels.length; i++) lists[labels[i]!]!.push(i);
  return lists.map((l) => Int32Array.from(l));
}

/** The rows `idx` of row-major z (n × dim), centred: returns the rows (float64) and their mean. */
export function centredRows(z: Float32Array, dim: number, idx: ArrayLike<number>): { rows: Float64Array; mean: Float64Array } {
  const n = idx.length;
  const mean = new Float64Array(dim);
  for (let k = 0; k < n; k++) for (let j = 0; j < dim; j++) mean[j]! += z[idx[k]! * dim + j]!;
  for (let j = 0; j < dim; j++) mean[j]! /= Math.max(1, n);
  const rows = new Float64Array(n * dim);
  for (let k = 0; k < n; k++) for (let j = 0; j < dim; j++) rows[k * dim + j] = z[idx[k]! * dim + j]! - mean[j]!;
  return { rows, mean };
}

/** Scatter matrix RᵀR (dim × dim, row-major) of n rows. */
export function scatter(rows: Float64Array, n: number, dim: number): Float64Array {
  const c = new Float64Array(dim * dim);
  for (let k = 0; k < n; k++) {
    const o = k * dim;
    for (let a = 0; a < dim; a++) {
      const ra = rows[o + a]!;
      if (ra === 0) continue;
      for (let b = a; b < dim; b++) c[a * dim + b]! += ra * rows[o + b]!;
    }
  }
  for (let a = 0; a < dim; a++) for (let b = 0; b < a; b++) c[a * dim + b] = c[b * dim + a]!;
  return c;
}

/**
 * The top `k` eigenpairs of a symmetric positive semi-definite matrix (dim ×
 * dim, row-major) by power iteration with deflation, from seeded random
 * starts. Eigenvectors are unit length, each with its largest-magnitude entry
 * positive (a fixed sign).
 */
export function topEigenvectors(
  matrix: Float64Array,
  dim: number,
  k: number,
  rng: Rng,
  opts: { maxIter?: number; tol?: number } = {},
): { vectors: Float64Array[]; values: number[] } {
  const maxIter = opts.maxIter ?? 3000;
  const tol = opts.tol ?? 1e-10;
  const m = Float64Array.from(matrix);
  const vectors: Float64Array[] = [];
  const values: number[] = [];
  const mul = (v: Float64Array) => {
    const out = new Float64Array(dim);
    for (let a = 0; a < dim; a++) {
      let s = 0;
      for (let b = 0; b < dim; b++) s += m[a * dim + b]! * v[b]!;
      out[a] = s;
    }
    return out;
  };
  const normalise = (v: Float64Array) => {
    let s = 0;
    for (let a = 0; a < dim; a++) s += v[a]! * v[a]!;
    const r = Math.sqrt(s);
    if (r > 0) for (let a = 0; a < dim; a++) v[a]! /= r;
    return r;
  };
  for (let e = 0; e < Math.min(k, dim); e++) {
    const r = rng.fork(`eig/${e}`);
    let v = Float64Array.from({ length: dim }, () => r.normal());
    // Start orthogonal to the vectors found so far (the deflated matrix already ignores them).
    for (const u of vectors) {
      let d = 0;
      for (let a = 0; a < dim; a++) d += u[a]! * v[a]!;
      for (let a = 0; a < dim; a++) v[a]! -= d * u[a]!;
    }
    normalise(v);
    let lambda = 0;
    for (let it = 0; it < maxIter; it++) {
      const w = mul(v);
      lambda = normalise(w);
      if (lambda === 0) break;
      let change = 0;
      for (let a = 0; a < dim; a++) change = Math.max(change, Math.abs(w[a]! - v[a]!));
      v = w;
      if (change < tol) break;
    }
    let big = 0;
    for (let a = 0; a < dim; a++) if (Math.abs(v[a]!) > Math.abs(v[big]!)) big = a;
    if (v[big]! < 0) for (let a = 0; a < dim; a++) v[a] = -v[a]!;
    vectors.push(v);
    values.push(lambda);
    // Deflate: M ← M − λ v vᵀ.
    for (let a = 0; a < dim; a++) for (let b = 0; b < dim; b++) m[a * dim + b]! -= lambda * v[a]! * v[b]!;
  }
  return { vectors, values };
}

/** Indices of the `count` largest scores among `idx` (ties: lower index first). */
export function topScoring(scores: ArrayLike<number>, idx: Int32Array, count: number): Int32Array {
  const order = Array.from(idx).sort((a, b) => scores[b]! - scores[a]! || a - b);
  return Int32Array.from(order.slice(0, Math.max(0, Math.min(count, order.length))));
}

/** The complement of `removed` in 0..n−1, ascending. */
export function keptIndices(n: number, removed: Iterable<number>): Int32Array {
  const drop = new Uint8Array(n);
  for (const i of removed) drop[i] = 1;
  const kept: number[] = [];
  for (let i = 0; i < n; i++) if (!drop[i]) kept.push(i);
  return Int32Array.from(kept);
}

/** The model's penultimate features of the poisoned training set (a defense needs the model). */
export function trainingFeatures(defense: string, artifact: AttackResult, model: Classifier | undefined, batchSize: number): { z: Float32Array; dim: number } {
  if (!model) throw new HemlockInputError(`${defense}: needs the model trained on the poisoned data (its penultimate features)`);
  return { z: extractFeatures(model.body, artifact.poisonedTrain, batchSize), dim: model.body.featureDim };
}

/** Spectral-signature scores of row-major features z (n × dim) with labels; and the removed indices. */
export function spectralScores(
  z: Float32Array,
  dim: number,
  labels: Int32Array,
  numClasses: number,
  config: SpectralSignaturesConfig,
  rng: Rng,
): { scores: Float32Array; removed: Int32Array } {
  const scores = new Float32Array(labels.length);
  const removed: number[] = [];
  indicesByClass(labels, numClasses).forEach((idx, c) => {
    const n = idx.length;
    if (n < 2) return;
    const { rows } = centredRows(z, dim, idx);
    const { vectors } = topEigenvectors(scatter(rows, n, dim), dim, 1, rng.fork(`class/${c}`));
    const v = vectors[0]!;
    const s = new Float64Array(n);
    let total = 0;
    for (let k = 0; k < n; k++) {
      let p = 0;
      for (let j = 0; j < dim; j++) p += rows[k * dim + j]! * v[j]!;
      s[k] = p * p;
      total += p * p;
    }
    const scale = config.normalize && total > 0 ? n / total : 1;
    for (let k = 0; k < n; k++) scores[idx[k]!] = s[k]! * scale;
    removed.push(...topScoring(scores, idx, Math.round(config.removalFactor * config.epsilon * n)));
  });
  return { scores, removed: Int32Array.from(removed).sort() };
}

export const spectralSignatures: DetectionDefense<typeof SpectralSignaturesSchema> = {
  info: {
    name: 'spectral-signatures',
    title: 'Spectral signatures: per class, remove the samples with the largest squared projection on the top singular vector of the centred features',
    paper: 'Tran, Li, Madry, "Spectral Signatures in Backdoor Attacks", NeurIPS 2018',
    capabilities: { stage: 'pre', modality: 'image', needsModel: true, needsCleanData: false },
    fidelity: 'partial',
    fidelityNote:
      'Algorithm as in the paper (per-class top singular vector, 1.5·ε·n removal, retraining). Against BadNets on fashion-mnist-mini: ' +
      'with a batch-norm ResNet-8 (experiments/backdoor/badnets-resnet-4class.yaml) AUROC 0.996, all poisons removed, retrained ASR 100% → 1%; ' +
      'with ConvNet-S (no batch norm; badnets-mini.yaml) only AUROC 0.62 and retrained ASR 34%: its features have a dominant within-class ' +
      "direction larger than the poisons' shift. The paper's CIFAR-10 results are not reproduced.",
  },
  configSchema: SpectralSignaturesSchema,
  async detect(artifact, ctx, config): Promise<DetectionResult> {
    const { z, dim } = trainingFeatures('spectral-signatures', artifact, ctx.model, config.batchSize);
    const d = artifact.poisonedTrain;
    const { scores, removed } = spectralScores(z, dim, d.labels, d.numClasses, config, ctx.rng);
    return { defense: 'spectral-signatures', scores, kept: keptIndices(d.count, removed) };
  },
};
