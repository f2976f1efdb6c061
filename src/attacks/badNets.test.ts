import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../engine/backend.js';
import { tf } from '../engine/tf.js';
import { Rng } from '../engine/rng.js';
import { HemlockInputError } from '../engine/errors.js';
import { ImageDataset } from '../data/dataset.js';
import { loadDataset } from '../data/builtin.js';
import { buildModel } from '../models/registry.js';
import { disposeModule } from '../models/module.js';
import { trainSupervised, type SupervisedConfig } from '../train/trainer.js';
import { evaluateClassifier } from '../train/evaluate.js';
import { syntheticBars } from '../testing/fixtures.js';
import { attackSuccessRate, backdoorDetails, badNetsAttack, BadNetsSchema, triggeredTestSet } from './badNets.js';
import { getAttack } from './registry.js';
import { buildTrigger } from './triggers/index.js';

function bars(n: number, seed = 0): ImageDataset {
  const d = syntheticBars(n, { size: 8, classes: 3, seed });
  return new ImageDataset({ ...d, classNames: ['a', 'b', 'c'], name: 'bars' });
}

describe('BadNets: crafting', () => {
  it('substitutes round(rate·N) seeded non-target samples with triggered copies relabelled to the target; the rest and the input are unchanged', async () => {
    const train = bars(60);
    const before = Float32Array.from(train.images);
    const cfg = BadNetsSchema.parse({ rate: 0.2, targetClass: 1, trigger: { kind: 'patch', size: 2 } });
    const r = await badNetsAttack.craft({ train, rng: new Rng(5) }, cfg);
    expect(train.images).toEqual(before);
    expect(r.added).toBe(false);
    expect(r.poisonedTrain.count).toBe(60);
    expect(r.poisonIndices.length).toBe(12);
    const src = r.details.sourceIndices as Int32Array;
    expect(Array.from(r.poisonIndices)).toEqual(Array.from(src));
    const trig = buildTrigger(cfg.trigger);
    const isPoison = new Set(r.poisonIndices);
    for (let i = 0; i < 60; i++) {
      if (isPoison.has(i)) {
        expect(train.labels[i]).not.toBe(1);
        expect(r.poisonedTrain.labels[i]).toBe(1);
        expect(Array.from(r.poisonedTrain.image(i))).toEqual(Array.from(trig.apply(train.image(i), [1, 8, 8, 1])));
      } else {
        expect(r.poisonedTrain.labels[i]).toBe(train.labels[i]);
        expect(Array.from(r.poisonedTrain.image(i))).toEqual(Array.from(train.image(i)));
      }
    }
    expect(r.linfNorms!.every((v) => v > 0 && v <= 1)).toBe(true);
    expect(backdoorDetails(r)).toEqual({ targetClass: 1, trigger: { kind: 'patch', size: 2, pattern: 'checkerboard', value: 1, position: 'bottom-right', margin: 1 } });
    // Seeded: the same seed picks the same samples, another seed others.
    const again = await badNetsAttack.craft({ train, rng: new Rng(5) }, cfg);
    expect(Array.from(again.poisonIndices)).toEqual(Array.from(r.poisonIndices));
    const other = await badNetsAttack.craft({ train, rng: new Rng(6) }, cfg);
    expect(Array.from(other.poisonIndices)).not.toEqual(Array.from(r.poisonIndices));
  });

  it("mode 'add' appends triggered copies; source picks one class; impossible budgets and classes are input errors", async () => {
    const train = bars(60);
    const r = await badNetsAttack.craft({ train, rng: new Rng(0) }, BadNetsSchema.parse({ rate: 0.1, targetClass: 0, source: 2, mode: 'add' }));
    expect(r.added).toBe(true);
    expect(r.poisonedTrain.count).toBe(66);
    expect(Array.from(r.poisonIndices)).toEqual([60, 61, 62, 63, 64, 65]);
    expect(Array.from(r.details.originalLabels as Int32Array)).toEqual([2, 2, 2, 2, 2, 2]);
    expect(Array.from(r.poisonedTrain.labels.subarray(0, 60))).toEqual(Array.from(train.labels));
    expect(Array.from(r.poisonedTrain.labels.subarray(60))).toEqual([0, 0, 0, 0, 0, 0]);
    await expect(badNetsAttack.craft({ train, rng: new Rng(0) }, BadNetsSchema.parse({ rate: 0.5, source: 2 }))).rejects.toThrow(/attack\.rate: .*30 poisons, but only 20/);
    await expect(badNetsAttack.craft({ train, rng: new Rng(0) }, BadNetsSchema.parse({ targetClass: 3 }))).rejects.toThrow(HemlockInputError);
    await expect(badNetsAttack.craft({ train, rng: new Rng(0) }, BadNetsSchema.parse({ targetClass: 1, source: 1 }))).rejects.toThrow(/source class must differ/);
    expect(() => BadNetsSchema.parse({ rate: 1 })).toThrow();
    expect(getAttack('badnets').info.capabilities).toMatchObject({ needsGradients: false, needsLabels: true, stage: 'training-data' });
  });

  it('the triggered test set drops the target class, stamps every image and keeps the true labels', () => {
    const test = bars(30, 1);
    const t = triggeredTestSet(test, { kind: 'patch', size: 3, pattern: 'solid', value: 1, position: 'top-left', margin: 0 }, 2);
    expect(t.count).toBe(20);
    expect(Array.from(t.labels).every((y) => y !== 2)).toBe(true);
    for (let i = 0; i < t.count; i++) expect(t.image(i)[0]).toBe(1);
  });
});

describe('BadNets: effect', () => {
  beforeAll(async () => {
    await initBackend(process.env.HEMLOCK_TEST_BACKEND ?? 'wasm');
  });

  it('a 4×4 patch on 10% of the training set: the backdoored model maps triggered inputs to the target (ASR ≥ 0.8), the clean model does not (≤ 0.3); clean accuracy barely moves', async () => {
    const { train: tr0, test: te0 } = await loadDataset('fashion-mnist-mini');
    const tr = tr0.filterClasses([0, 1, 7, 8], true);
    const te = te0.filterClasses([0, 1, 7, 8], true);
    const train = tr.subset(new Rng('badnets-test/train').sample(tr.count, 600));
    const test = te.subset(new Rng('badnets-test/test').sample(te.count, 400));
    const cfg = BadNetsSchema.parse({ rate: 0.1, targetClass: 0, trigger: { kind: 'patch', size: 4 } });
    const r = await badNetsAttack.craft({ train, rng: new Rng(0) }, cfg);
    const recipe: SupervisedConfig = {
      epochs: 12,
      batchSize: 32,
      optimizer: { kind: 'adam', lr: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 },
      schedule: { kind: 'cosine' },
      augment: { shift: 0, shiftPadding: 'reflect', flip: false, brightness: 0, contrast: 0, noise: 0 },
      seed: 0,
    };
    const result: Record<string, { acc: number; asr: number }> = {};
    for (const [name, data] of [['clean', train], ['poisoned', r.poisonedTrain]] as const) {
      const m = buildModel({ architecture: 'convnet-s', inputShape: [28, 28, 1], numClasses: 4, head: 'linear', options: { widths: [8, 16, 32] } }, 0);
      await trainSupervised(m, data, recipe);
      const before = tf.memory().numTensors;
      result[name] = { acc: evaluateClassifier(m, test, 4).accuracy, asr: attackSuccessRate(m, test, cfg.trigger, 0) };
      expect(tf.memory().numTensors).toBe(before);
      disposeModule(m);
    }
    // wasm, seeds 0–3: clean ASR 0.013–0.023, backdoored ASR 0.99–1.0; accuracy 0.91–0.94 both.
    expect(result.poisoned!.asr).toBeGreaterThanOrEqual(0.8);
    expect(result.clean!.asr).toBeLessThanOrEqual(0.3);
    expect(result.poisoned!.acc).toBeGreaterThan(result.clean!.acc - 0.05);
  });
});
