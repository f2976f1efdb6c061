import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../engine/backend.js';
import { tf } from '../engine/tf.js';
import { Rng } from '../engine/rng.js';
import { loadDataset } from '../data/builtin.js';
import type { ImageDataset } from '../data/dataset.js';
import { buildModel } from '../models/registry.js';
import type { Classifier } from '../models/classifier.js';
import { disposeModule } from '../models/module.js';
import { trainSupervised, type SupervisedConfig } from '../train/trainer.js';
import { evaluateClassifier } from '../train/evaluate.js';
import { auroc } from '../eval/metrics.js';
import { attackSuccessRate, badNetsAttack, BadNetsSchema } from '../attacks/badNets.js';
import type { AttackResult } from '../attacks/types.js';
import { centredRows, keptIndices, scatter, spectralScores, spectralSignatures, SpectralSignaturesSchema, topEigenvectors } from './spectralSignatures.js';
import { activationClustering } from './activationClustering.js';
import { getDefense, listDefenses } from './registry.js';

describe('spectral signatures: numerics', () => {
  it('power iteration finds the eigenpairs of [[2,1],[1,2]] (hand-computed: 3 with (1,1)/√2, 1 with (1,−1)/√2)', () => {
    const { vectors, values } = topEigenvectors(Float64Array.from([2, 1, 1, 2]), 2, 2, new Rng(0));
    expect(values[0]).toBeCloseTo(3, 8);
    expect(values[1]).toBeCloseTo(1, 8);
    expect(vectors[0]![0]).toBeCloseTo(Math.SQRT1_2, 6);
    expect(vectors[0]![1]).toBeCloseTo(Math.SQRT1_2, 6);
    expect(Math.abs(vectors[1]![0]!)).toBeCloseTo(Math.SQRT1_2, 6);
    expect(vectors[1]![0]! * vectors[1]![1]!).toBeCloseTo(-0.5, 6);
  });

  it('…and of Q·diag(5,3,2,0.5)·Qᵀ for a Householder Q (the eigendecomposition is known by construction)', () => {
    const u = [1, 2, -1, 3];
    const uu = u.reduce((a, v) => a + v * v, 0);
    const q = (i: number, j: number) => (i === j ? 1 : 0) - (2 * u[i]! * u[j]!) / uu; // columns are the eigenvectors
    const lam = [5, 3, 2, 0.5];
    const a = new Float64Array(16);
    for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) for (let k = 0; k < 4; k++) a[i * 4 + j]! += q(i, k) * lam[k]! * q(j, k);
    const { vectors, values } = topEigenvectors(a, 4, 3, new Rng(1));
    for (let e = 0; e < 3; e++) {
      expect(values[e]).toBeCloseTo(lam[e]!, 8);
      const dot = [0, 1, 2, 3].reduce((s, i) => s + vectors[e]![i]! * q(i, e), 0);
      expect(Math.abs(dot)).toBeCloseTo(1, 6);
    }
  });

  it('scores are squared projections on the top direction of the centred class features (hand-checked), 1.5·ε·n removed per class', () => {
    // Class 0: 1-d features 0,0,0,4 → mean 1, centred −1,−1,−1,3 → scores 1,1,1,9.
    // Class 1: 2-d features spread along x, one outlier along y.
    const z = Float32Array.from([0, 0, 0, 0, 0, 0, 4, 0, /* class 1 */ -2, 0, 2, 0, -1, 0, 1, 0]);
    const labels = Int32Array.from([0, 0, 0, 0, 1, 1, 1, 1]);
    const cfg = SpectralSignaturesSchema.parse({ epsilon: 0.2 }); // round(1.5·0.2·4) = 1 removed per class
    const { scores, removed } = spectralScores(z, 2, labels, 2, cfg, new Rng(0));
    expect(Array.from(scores.subarray(0, 4))).toEqual([1, 1, 1, 9]);
    expect(Array.from(scores.subarray(4))).toEqual([4, 4, 1, 1]);
    expect(Array.from(removed)).toEqual([3, 4]); // ties: the lower index goes first
    expect(Array.from(keptIndices(8, removed))).toEqual([0, 1, 2, 5, 6, 7]);
    const norm = spectralScores(z, 2, labels, 2, { ...cfg, normalize: true }, new Rng(0)).scores;
    expect(norm[3]).toBeCloseTo(9 / 3, 6); // divided by the class mean score (12/4)
    // The scatter matrix of centred rows is RᵀR.
    const { rows, mean } = centredRows(z, 2, [4, 5, 6, 7]);
    expect(Array.from(mean)).toEqual([0, 0]);
    expect(Array.from(scatter(rows, 4, 2))).toEqual([10, 0, 0, 0]);
  });

  it('registered with the activation-clustering defense', () => {
    expect(listDefenses().map((d) => d.name)).toEqual(['spectral-signatures', 'activation-clustering']);
    expect(getDefense('spectral-signatures')).toBe(spectralSignatures);
    expect(() => getDefense('nope')).toThrow(/unknown defense 'nope'/);
  });
});

/**
 * One BadNets-poisoned ResNet-8 (batch norm, as the ResNets of Tran et al.)
 * on 4 Fashion-MNIST classes, shared by the detection tests below.
 */
describe('spectral signatures and activation clustering on a backdoored model', () => {
  let train: ImageDataset;
  let test: ImageDataset;
  let attack: AttackResult;
  let model: Classifier;
  let isPoison: Uint8Array;
  const recipe: SupervisedConfig = {
    epochs: 6,
    batchSize: 32,
    optimizer: { kind: 'adam', lr: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 },
    schedule: { kind: 'cosine' },
    augment: { shift: 0, shiftPadding: 'reflect', flip: false, brightness: 0, contrast: 0, noise: 0 },
    seed: 0,
  };
  const trigger = { kind: 'patch', size: 4 } as const;
  const newModel = () => buildModel({ architecture: 'resnet', inputShape: [28, 28, 1], numClasses: 4, head: 'linear', options: {} }, 0);

  beforeAll(async () => {
    await initBackend(process.env.HEMLOCK_TEST_BACKEND ?? 'wasm');
    const { train: tr0, test: te0 } = await loadDataset('fashion-mnist-mini');
    const tr = tr0.filterClasses([0, 1, 7, 8], true);
    const te = te0.filterClasses([0, 1, 7, 8], true);
    train = tr.subset(new Rng('defense-test/train').sample(tr.count, 600));
    test = te.subset(new Rng('defense-test/test').sample(te.count, 400));
    attack = await badNetsAttack.craft({ train, rng: new Rng(0) }, BadNetsSchema.parse({ rate: 0.1, targetClass: 0, trigger }));
    isPoison = new Uint8Array(attack.poisonedTrain.count);
    for (const i of attack.poisonIndices) isPoison[i] = 1;
    model = newModel();
    await trainSupervised(model, attack.poisonedTrain, recipe);
  });
  afterAll(() => model && disposeModule(model));

  const removedRates = (kept: Int32Array) => {
    const keep = new Set(kept);
    let tp = 0, fp = 0;
    for (let i = 0; i < isPoison.length; i++) if (!keep.has(i)) isPoison[i] ? tp++ : fp++;
    const pos = attack.poisonIndices.length;
    return { tpr: tp / pos, fpr: fp / (isPoison.length - pos) };
  };

  it('spectral signatures separate the poisons (AUROC ≥ 0.9); activation clustering flags most of them', async () => {
    const before = tf.memory().numTensors;
    // 60 poisons in a target class of 210: ε ≈ 0.29 of the class.
    const ss = await spectralSignatures.detect(attack, { model, rng: new Rng(1) }, SpectralSignaturesSchema.parse({ epsilon: 0.3 }));
    const ac = await activationClustering.detect(attack, { model, rng: new Rng(1) }, activationClustering.configSchema.parse({}));
    expect(tf.memory().numTensors).toBe(before);
    const ssAuroc = auroc(ss.scores, isPoison);
    const acAuroc = auroc(ac.scores, isPoison);
    const ssRates = removedRates(ss.kept);
    const acRates = removedRates(ac.kept);
    // wasm, this fixture: SS AUROC 0.999 (all 60 poisons removed, with 39% of the clean samples: 1.5·ε·n per class);
    // AC AUROC 1.000 (60/60 flagged, 7.6% of clean). Scratch runs on other subsets and model seeds: SS AUROC
    // 0.95–1.0, AC 0.85–1.0 with PCA (0.34–0.93 with whitening).
    expect(ssAuroc).toBeGreaterThanOrEqual(0.9);
    expect(ssRates.tpr).toBeGreaterThanOrEqual(0.8);
    const removed = attack.poisonedTrain.labelHistogram().reduce((a, n) => a + Math.round(1.5 * 0.3 * n), 0);
    expect(ss.kept.length).toBe(attack.poisonedTrain.count - removed);
    expect(acAuroc).toBeGreaterThanOrEqual(0.75);
    expect(acRates.tpr).toBeGreaterThanOrEqual(0.8);
    expect(acRates.fpr).toBeLessThanOrEqual(0.25);
    console.log(`detection: SS AUROC ${ssAuroc.toFixed(3)} TPR ${ssRates.tpr.toFixed(3)} FPR ${ssRates.fpr.toFixed(3)}; AC AUROC ${acAuroc.toFixed(3)} TPR ${acRates.tpr.toFixed(3)} FPR ${acRates.fpr.toFixed(3)}`);
  });

  it('retraining on what spectral signatures keep removes the backdoor (ASR falls clearly), at a small clean-accuracy cost', async () => {
    const ss = await spectralSignatures.detect(attack, { model, rng: new Rng(1) }, SpectralSignaturesSchema.parse({ epsilon: 0.3 }));
    const poisonedAsr = attackSuccessRate(model, test, trigger, 0);
    const poisonedAcc = evaluateClassifier(model, test, 4).accuracy;
    const m2 = newModel();
    try {
      await trainSupervised(m2, attack.poisonedTrain.subset(ss.kept), recipe);
      const asr = attackSuccessRate(m2, test, trigger, 0);
      const acc = evaluateClassifier(m2, test, 4).accuracy;
      console.log(`retraining: ASR ${poisonedAsr.toFixed(3)} → ${asr.toFixed(3)}, accuracy ${poisonedAcc.toFixed(3)} → ${acc.toFixed(3)}`);
      expect(poisonedAsr).toBeGreaterThanOrEqual(0.8);
      expect(asr).toBeLessThanOrEqual(0.3);
      expect(acc).toBeGreaterThan(poisonedAcc - 0.1);
    } finally {
      disposeModule(m2);
    }
  });
});
