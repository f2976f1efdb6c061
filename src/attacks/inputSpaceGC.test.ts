import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../engine/tf.js';
import { initBackend } from '../engine/backend.js';
import { Rng } from '../engine/rng.js';
import { tinyT1, type TinyT1 } from '../testing/t1Fixtures.js';
import { extractFeatures, featureSet } from './t1/features.js';
import { gradPC } from './gradPC.js';
import { choosePoisonStarts, gcObjective, gcProblem } from './gradientCanceling.js';
import { gradientCancelInputs, inputSpaceGCAttack } from './inputSpaceGC.js';
import { featureTargetedAttack } from './featureTargeted.js';

let t: TinyT1;
beforeAll(async () => {
  await initBackend(process.env.HEMLOCK_TEST_BACKEND ?? 'wasm');
  t = await tinyT1({ n: 100, nTest: 40 });
});
afterAll(() => t?.dispose());

describe('input-space gradient canceling', () => {
  it('lowers the GC objective through the encoder; images stay in the box and the ℓ∞ ball; no leaks across steps', () => {
    const enc = t.model.body;
    const clean = featureSet(extractFeatures(enc, t.train), t.train.labels, enc.featureDim);
    const target = gradPC(clean, 4, t.cleanHead, { radius: 1.6 }, new Rng(0)).target;
    const problem = gcProblem(clean, 4, target, t.l2, 110);
    const { sourceIndices, labels } = choosePoisonStarts(t.train.labels, 4, 10, 'need', problem.gb, new Rng(1));
    const start = t.train.subset(sourceIndices).images;
    const shape = { height: 28, width: 28, channels: 1 };
    const before = tf.memory().numTensors;
    const r = gradientCancelInputs(enc, problem, start, labels, shape, { steps: 12, lr: 0.02, linf: 0.1, batchSize: 4 });
    expect(tf.memory().numTensors).toBe(before);
    gradientCancelInputs(enc, problem, start, labels, shape, { steps: 3, lr: 0.02, linf: 0.1, batchSize: 4 });
    expect(tf.memory().numTensors).toBe(before);
    expect(r.finalObjective).toBeLessThan(r.initialObjective);
    // The objective is the feature-space one evaluated at f(x).
    const zeta = extractFeatures(enc, { images: r.images, labels, height: 28, width: 28, channels: 1 });
    expect(gcObjective(problem, zeta, labels) / r.finalObjective).toBeCloseTo(1, 3);
    for (let i = 0; i < start.length; i++) {
      expect(r.images[i]).toBeGreaterThanOrEqual(0);
      expect(r.images[i]).toBeLessThanOrEqual(1);
      expect(Math.abs(r.images[i]! - start[i]!)).toBeLessThanOrEqual(0.1 + 1e-6);
    }
  });

  it('the gc-input and ft attacks return valid added poisons with norms and residuals', async () => {
    const base = { epsilon: 0.05, targetParams: { radius: 1.6 }, gc: { steps: 30 }, victim: { l2: t.l2 } };
    const gi = await inputSpaceGCAttack.craft({ train: t.train, model: t.model, rng: new Rng(2) }, inputSpaceGCAttack.configSchema.parse({ ...base, input: { steps: 3, linf: 0.05 } }));
    expect(gi.poisonedTrain.count).toBe(105);
    expect(Array.from(gi.poisonIndices)).toEqual([100, 101, 102, 103, 104]);
    expect(Math.max(...gi.linfNorms!)).toBeLessThanOrEqual(0.05 + 1e-6);
    const ft = await featureTargetedAttack.craft({ train: t.train, model: t.model, rng: new Rng(2) }, featureTargetedAttack.configSchema.parse({ ...base, inversion: { method: 'matching', matching: { steps: 5, linf: 0.1 } } }));
    expect(ft.details.inversionRelativeResidual).toBeTypeOf('number');
    expect(ft.details.inversionRelativeResidual as number).toBeLessThanOrEqual(ft.details.matchingInitialRelativeResidual as number);
    expect((ft.details.poisonFeatures as Float32Array).length).toBe(5 * t.model.body.featureDim);
    expect(Math.max(...ft.linfNorms!)).toBeLessThanOrEqual(0.1 + 1e-6);
  });
});
