import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../engine/backend.js';
import { ImageDataset } from '../data/dataset.js';
import { syntheticBars } from '../testing/fixtures.js';
import { retrainVictims, summarizeTrials, victimSeed, type VictimTrial } from './victimRetraining.js';
import { wilsonInterval } from './metrics.js';

const BACKEND = process.env.HEMLOCK_TEST_BACKEND ?? 'wasm';

function bars(n: number, seed: number): ImageDataset {
  const d = syntheticBars(n, { size: 8, classes: 3, seed });
  return new ImageDataset({ ...d, classNames: ['a', 'b', 'c'], name: `bars${seed}` });
}

beforeAll(async () => {
  await initBackend(BACKEND);
});

describe('victim retraining protocol', () => {
  it('summarizes trials as target success with a Wilson 95% interval and mean validation accuracy', () => {
    const t = (success: boolean, va: number): VictimTrial => ({ setup: 0, retrain: 0, seed: 1, predicted: success ? 2 : 0, success, adversarialProbability: success ? 0.9 : 0.1, validationAccuracy: va, trainSeconds: 1 });
    const s = summarizeTrials([t(true, 0.8), t(false, 0.6), t(true, 0.7), t(false, 0.9)]);
    expect(s).toMatchObject({ targetSuccess: 0.5, successes: 2, trials: 4 });
    expect(s.ci).toEqual(wilsonInterval(2, 4));
    expect(s.validationAccuracy).toBeCloseTo(0.75, 12);
    expect(summarizeTrials([]).trials).toBe(0);
  });

  it('victim seeds are deterministic and differ across setups and retrainings', () => {
    expect(victimSeed(0, 1, 2)).toBe(victimSeed(0, 1, 2));
    const seeds = new Set([victimSeed(0, 0, 0), victimSeed(0, 0, 1), victimSeed(0, 1, 0), victimSeed(1, 0, 0)]);
    expect(seeds.size).toBe(4);
  });

  it('retrains from scratch R times; validation excludes the target; a learnable target is predicted correctly', async () => {
    const train = bars(60, 1);
    const test = bars(12, 2);
    const trials = await retrainVictims(
      { train, test, targetIndex: 4, targetTrueClass: test.labels[4]!, adversarialClass: (test.labels[4]! + 1) % 3 },
      {
        model: { architecture: 'convnet-s', inputShape: [8, 8, 1], numClasses: 3, head: 'linear', options: { widths: [4, 8, 8] } },
        train: { epochs: 6, batchSize: 20, optimizer: { kind: 'adam', lr: 0.02, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 }, schedule: { kind: 'constant' }, augment: { shift: 0, shiftPadding: 'zero', flip: false, brightness: 0, contrast: 0, noise: 0 } },
      },
      { retrainings: 2, seed: 9 },
    );
    expect(trials).toHaveLength(2);
    // Without poison indices no fit is recorded.
    expect(trials[0]!.poisonAccuracy).toBeUndefined();
    expect(trials[0]!.seed).not.toBe(trials[1]!.seed);
    for (const t of trials) {
      // 11 validation images (12 minus the target): accuracies are multiples of 1/11.
      expect(Math.abs(t.validationAccuracy * 11 - Math.round(t.validationAccuracy * 11))).toBeLessThan(1e-9);
      expect(t.validationAccuracy).toBeGreaterThan(0.9); // the bars are trivially learnable
      expect(t.success).toBe(false);
      expect(t.predicted).toBe(test.labels[4]);
    }
  });

  it('records how well each victim fits the poisons: a mislabelled "poison" the victim cannot learn scores 0, learnable ones 1', async () => {
    const clean = bars(60, 1);
    const test = bars(12, 2);
    // Poisons 0–2 keep their labels (learnable bars); poisons 3–5 get another
    // class's label (the bars contradict them), so a victim that fits the
    // data gets the first three right and the last three wrong.
    const labels = clean.labels.slice();
    for (const i of [3, 4, 5]) labels[i] = (labels[i]! + 1) % 3;
    const train = new ImageDataset({ images: clean.images, labels, height: 8, width: 8, channels: 1, classNames: ['a', 'b', 'c'], name: 'bars-mislabelled' });
    const recipe = {
      model: { architecture: 'convnet-s' as const, inputShape: [8, 8, 1] as [number, number, number], numClasses: 3, head: 'linear' as const, options: { widths: [4, 8, 8] } },
      train: { epochs: 6, batchSize: 20, optimizer: { kind: 'adam' as const, lr: 0.02, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 }, schedule: { kind: 'constant' as const }, augment: { shift: 0, shiftPadding: 'zero' as const, flip: false, brightness: 0, contrast: 0, noise: 0 } },
    };
    const setup = { train, test, targetIndex: 4, targetTrueClass: test.labels[4]!, adversarialClass: (test.labels[4]! + 1) % 3 };
    const [good] = await retrainVictims({ ...setup, poisonIndices: [0, 1, 2] }, recipe, { retrainings: 1, seed: 9 });
    const [bad] = await retrainVictims({ ...setup, poisonIndices: [3, 4, 5] }, recipe, { retrainings: 1, seed: 9 });
    expect(good!.poisonAccuracy).toBe(1);
    expect(bad!.poisonAccuracy).toBe(0);
    // Same victim seed, same data: the same training accuracy (57 of 60 right).
    expect(good!.trainAccuracy).toBeCloseTo(57 / 60, 12);
    expect(bad!.trainAccuracy).toBe(good!.trainAccuracy);
  });
});
