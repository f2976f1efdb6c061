import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf, type Tensor2D } from '../engine/tf.js';
import { initBackend } from '../engine/backend.js';
import { Rng } from '../engine/rng.js';
import { crossEntropy } from '../train/losses.js';
import { gaussianFeatures, tinyT1, type TinyT1 } from '../testing/t1Fixtures.js';
import { featureRange, featureSet, gatherRows, extractFeatures } from './t1/features.js';
import { concatFeatures, headAccuracy, headTensors, trainLinearProbe } from './t1/linearProbe.js';
import { gradPC } from './gradPC.js';
import {
  allocate,
  biasExcess,
  choosePoisonStarts,
  gcFeatureAttack,
  gcObjective,
  gcProblem,
  gradientCancelFeatures,
  invertSpd,
  withInverseHessian,
} from './gradientCanceling.js';

beforeAll(async () => {
  await initBackend(process.env.HEMLOCK_TEST_BACKEND ?? 'wasm');
});

describe('gradient canceling in feature space', () => {
  it('objective equals ‖Σ ∇ω CE over clean ∪ poisons + Mλ(Ŵ,0)‖² computed directly by autodiff', () => {
    const clean = gaussianFeatures(60, { dim: 5, classes: 3 });
    const target = { w: Float32Array.from({ length: 15 }, (_, i) => Math.cos(i) * 0.4), b: Float32Array.from([0.2, 0, -0.1]), dim: 5, numClasses: 3 };
    const zeta = Float32Array.from({ length: 4 * 5 }, (_, i) => (i % 7) * 0.3);
    const labels = Int32Array.from([0, 1, 2, 1]);
    const l2 = 0.01;
    const problem = gcProblem(clean, 3, target, l2, 64);
    const direct = tf.tidy(() => {
      const all = concatFeatures(clean, featureSet(zeta, labels, 5));
      const { w, b } = headTensors(target);
      const z = tf.tensor2d(all.z, [64, 5]);
      const y = tf.tensor1d(all.labels, 'int32');
      const [gw, gb] = tf.grads((ww: tf.Tensor, bb: tf.Tensor) =>
        tf.add(crossEntropy(tf.add(tf.matMul(z, ww as Tensor2D), bb), y, 'sum'), tf.mul(tf.sum(tf.square(ww)), (64 * l2) / 2)) as tf.Scalar,
      )([w, b]);
      return tf.add(tf.sum(tf.square(gw!)), tf.sum(tf.square(gb!)));
    });
    expect(gcObjective(problem, zeta, labels)).toBeCloseTo(direct.dataSync()[0]!, 2);
    direct.dispose();
  });

  it('decreases the objective, keeps ζ in the clean feature box, and leaks no tensors', () => {
    const f = gaussianFeatures(120, { dim: 6, classes: 3, spread: 1.5 });
    const clean = trainLinearProbe(f, 3, { l2: 1e-3 }).head;
    const target = gradPC(f, 3, clean, { radius: 0.4 }, new Rng(0)).target;
    const problem = gcProblem(f, 3, target, 1e-3, 132);
    const { sourceIndices, labels } = choosePoisonStarts(f.labels, 3, 12, 'need', problem.gb, new Rng(1));
    const box = featureRange(f);
    const init = gatherRows(f.z, 6, sourceIndices);
    const before = tf.memory().numTensors;
    const r = gradientCancelFeatures(problem, init, labels, box, { steps: 60 });
    const afterOne = tf.memory().numTensors;
    gradientCancelFeatures(problem, init, labels, box, { steps: 120 });
    expect(afterOne).toBe(before);
    expect(tf.memory().numTensors).toBe(before);
    expect(r.finalObjective).toBeLessThan(r.initialObjective);
    expect(r.finalObjective).toBeCloseTo(gcObjective(problem, r.zeta, labels), 0);
    for (let i = 0; i < 12; i++)
      for (let k = 0; k < 6; k++) {
        expect(r.zeta[i * 6 + k]).toBeGreaterThanOrEqual(box.lo[k]! - 1e-5);
        expect(r.zeta[i * 6 + k]).toBeLessThanOrEqual(box.hi[k]! + 1e-5);
      }
  });

  it('bias excess: P poisons lower Σ_c max(0, g_b[c]) by at most P, so a target beyond the budget stays out of reach', () => {
    const f = gaussianFeatures(150, { dim: 6, classes: 3, spread: 1.5 });
    const clean = trainLinearProbe(f, 3, { l2: 1e-3 }).head;
    // A large GradPC step: the target over-predicts some classes by far more than P points.
    const target = gradPC(f, 3, clean, { radius: 3 }, new Rng(0)).target;
    const p = 5;
    const problem = gcProblem(f, 3, target, 1e-3, 150 + p);
    const excess = biasExcess(problem);
    expect(excess).toBeCloseTo(Array.from(problem.gb).reduce((s, v) => s + Math.max(0, v), 0), 4);
    expect(excess).toBeGreaterThan(3 * p);
    const { sourceIndices, labels } = choosePoisonStarts(f.labels, 3, p, 'need', problem.gb, new Rng(1));
    const r = gradientCancelFeatures(problem, gatherRows(f.z, 6, sourceIndices), labels, featureRange(f, 'global'), { steps: 200 });
    // The bias part of G after GC: g_b + Σ_j (softmax_j − onehot_j).
    const gbAfter = tf.tidy(() => {
      const { w, b } = headTensors(target);
      const pr = tf.softmax(tf.add(tf.matMul(tf.tensor2d(r.zeta, [p, 6]), w), b));
      return tf.add(tf.tensor1d(problem.gb), tf.sum(tf.sub(pr, tf.oneHot(tf.tensor1d(labels, 'int32'), 3).toFloat()), 0));
    });
    const after = Array.from(gbAfter.dataSync()).reduce((s, v) => s + Math.max(0, v), 0);
    gbAfter.dispose();
    expect(after).toBeGreaterThanOrEqual(excess - p - 1e-3);
    expect(r.relativeResidual).toBeGreaterThan(0.3);
  });

  it('label allocation by bias-gradient need', () => {
    expect(allocate([3, 1, 0], 8)).toEqual([6, 2, 0]);
    expect(allocate([1, 1, 1], 4).reduce((a, b) => a + b)).toBe(4);
    const labelsOfClean = Int32Array.from({ length: 30 }, (_, i) => i % 3);
    const { sourceIndices, labels } = choosePoisonStarts(labelsOfClean, 3, 6, 'need', Float32Array.from([5, -4, -1]), new Rng(0));
    // Over-predicted class 0 gets every label; starts come from the under-predicted classes.
    expect(Array.from(labels)).toEqual([0, 0, 0, 0, 0, 0]);
    expect(Array.from(sourceIndices).every((i) => labelsOfClean[i] !== 0)).toBe(true);
  });

  it('newton objective: Cholesky inverse of a symmetric positive definite matrix', () => {
    const a = Float64Array.from([4, 1, 0.5, 1, 3, 0.2, 0.5, 0.2, 2]);
    const inv = invertSpd(a, 3);
    for (let i = 0; i < 3; i++)
      for (let j = 0; j < 3; j++) {
        let s = 0;
        for (let q = 0; q < 3; q++) s += a[i * 3 + q]! * inv[q * 3 + j]!;
        expect(s).toBeCloseTo(i === j ? 1 : 0, 10);
      }
    const f = gaussianFeatures(60, { dim: 4, classes: 3 });
    const head = trainLinearProbe(f, 3, { l2: 1e-2 }).head;
    const p = withInverseHessian(gcProblem(f, 3, head, 1e-2, 60), f);
    expect(p.hInv!.length).toBe(15 * 15);
  });
});

describe('GC on features: the effect (tiny data)', () => {
  let t: TinyT1;
  beforeAll(async () => {
    // A weak (randomly initialised, narrow) encoder on 4 classes: low-margin features.
    t = await tinyT1({ classes: [0, 2, 4, 6], n: 400 });
  });
  afterAll(() => t?.dispose());

  it('at ε = 10% drops the linear probe test accuracy by at least 10 points', async () => {
    const cfg = gcFeatureAttack.configSchema.parse({ epsilon: 0.1, targetParams: { radius: [0.8, 1.6, 3.2] }, gc: { steps: 300 }, victim: { l2: t.l2 } });
    const before = tf.memory().numTensors;
    const r = await gcFeatureAttack.craft({ train: t.train, test: t.test, model: t.model, rng: new Rng(0) }, cfg);
    expect(tf.memory().numTensors).toBe(before);
    expect(r.poisonIndices.length).toBe(40);
    const dim = t.model.body.featureDim;
    const clean = featureSet(extractFeatures(t.model.body, t.train), t.train.labels, dim);
    const testF = featureSet(extractFeatures(t.model.body, t.test), t.test.labels, dim);
    const poisonLabels = Int32Array.from(r.poisonIndices, (i) => r.poisonedTrain.labels[i]!);
    const poisoned = trainLinearProbe(concatFeatures(clean, featureSet(r.details.poisonFeatures as Float32Array, poisonLabels, dim)), 4, { l2: t.l2 }).head;
    const drop = t.cleanAccuracy - headAccuracy(poisoned, testF);
    console.log(`GC effect: clean ${t.cleanAccuracy} drop ${drop} radius ${r.details.radius}`);
    expect(drop).toBeGreaterThanOrEqual(0.1);
  });
});
