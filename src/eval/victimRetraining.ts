import { tf } from '../engine/tf.js';
import { Rng } from '../engine/rng.js';
import type { ImageDataset } from '../data/dataset.js';
import { buildModel, type ModelSpec } from '../models/registry.js';
import { disposeModule } from '../models/module.js';
import { trainSupervised, type StepProgress, type SupervisedConfig } from '../train/trainer.js';
import { predictLabels } from '../train/evaluate.js';
import { accuracy, wilsonInterval } from './metrics.js';

/**
 * The T4 victim protocol (ALGORITHMS.md §0, §4): the victim trains a fresh
 * model from scratch, with augmentation, on the (poisoned) training set; the
 * attack succeeds in a trial when the clean target image is then classified as
 * the adversarial class. Each setup is retrained R times with different seeds
 * (initialisation, data order, augmentation); target success is the fraction
 * of all (setup, retraining) trials, with a Wilson 95% interval. The victims'
 * validation accuracy is measured on the test set without the target.
 */

export interface VictimRecipe {
  model: ModelSpec;
  /** Training config without the seed (each retraining gets its own). */
  train: Omit<SupervisedConfig, 'seed'>;
}

/** One (target, adversarial class) setup to evaluate. */
export interface PoisonedSetup {
  train: ImageDataset;
  test: ImageDataset;
  targetIndex: number;
  targetTrueClass: number;
  adversarialClass: number;
  /**
   * Indices of the poisoned images in `train` (optional). When given, each
   * trial also records how well the victim fits them: poisons that the victim
   * never learns cannot move the target, so this tells "the victim ignored the
   * poisons" apart from "it learned them and the effect did not transfer".
   */
  poisonIndices?: ArrayLike<number>;
}

export interface VictimTrial {
  /** Caller's label for the setup (its index in a sweep). */
  setup: number;
  retrain: number;
  seed: number;
  predicted: number;
  success: boolean;
  /** Softmax probability of the adversarial class at the target. */
  adversarialProbability: number;
  validationAccuracy: number;
  /** Accuracy of the victim on the poisoned training images with their (unchanged) labels; present when the setup names its poisons. */
  poisonAccuracy?: number;
  /** Accuracy of the victim on its whole (poisoned) training set, without augmentation; present when the setup names its poisons. */
  trainAccuracy?: number;
  trainSeconds: number;
}

export interface VictimSummary {
  targetSuccess: number;
  ci: [number, number];
  successes: number;
  trials: number;
  /** Mean validation accuracy of the victims (test set without the targets). */
  validationAccuracy: number;
}

/** A 31-bit victim seed derived from the evaluation seed, setup and retraining. */
export function victimSeed(seed: number, setup: number, retrain: number): number {
  return new Rng(`victim/${seed}/${setup}/${retrain}`).seedInt();
}

export interface RetrainOptions {
  retrainings: number;
  seed: number;
  /** Label of this setup in the trial records (default 0). */
  setupIndex?: number;
  onStep?: (retrain: number, p: StepProgress) => void;
  onTrial?: (t: VictimTrial) => void;
}

/** Retrains R victims from scratch on `setup.train` and checks the target after each. */
export async function retrainVictims(setup: PoisonedSetup, recipe: VictimRecipe, opts: RetrainOptions): Promise<VictimTrial[]> {
  const { test, targetIndex } = setup;
  const keep: number[] = [];
  for (let i = 0; i < test.count; i++) if (i !== targetIndex) keep.push(i);
  const validation = test.subset(keep);
  const target = test.subset([targetIndex]);
  const trials: VictimTrial[] = [];
  const setupIndex = opts.setupIndex ?? 0;
  for (let r = 0; r < opts.retrainings; r++) {
    const seed = victimSeed(opts.seed, setupIndex, r);
    const model = buildModel(recipe.model, seed);
    try {
      const t0 = performance.now();
      await trainSupervised(model, setup.train, { ...recipe.train, seed }, {
        ...(opts.onStep ? { onStep: (p: StepProgress) => opts.onStep!(r, p) } : {}),
      });
      const trainSeconds = (performance.now() - t0) / 1000;
      const probs = tf.tidy(() => tf.softmax(model.apply(tf.tensor4d(target.images, [1, target.height, target.width, target.channels]), { training: false })));
      const p = probs.dataSync() as Float32Array;
      probs.dispose();
      let predicted = 0;
      for (let k = 1; k < p.length; k++) if (p[k]! > p[predicted]!) predicted = k;
      const validationAccuracy = accuracy(predictLabels(model, validation), validation.labels);
      let fit: { poisonAccuracy: number; trainAccuracy: number } | undefined;
      if (setup.poisonIndices && setup.poisonIndices.length > 0) {
        const trainPred = predictLabels(model, setup.train);
        const idx = Array.from(setup.poisonIndices);
        fit = {
          poisonAccuracy: accuracy(Int32Array.from(idx, (i) => trainPred[i]!), Int32Array.from(idx, (i) => setup.train.labels[i]!)),
          trainAccuracy: accuracy(trainPred, setup.train.labels),
        };
      }
      const trial: VictimTrial = {
        setup: setupIndex,
        retrain: r,
        seed,
        predicted,
        success: predicted === setup.adversarialClass,
        adversarialProbability: p[setup.adversarialClass]!,
        validationAccuracy,
        ...fit,
        trainSeconds,
      };
      trials.push(trial);
      opts.onTrial?.(trial);
    } finally {
      disposeModule(model);
    }
  }
  return trials;
}

/** Target success with a Wilson 95% interval, and the victims' mean validation accuracy. */
export function summarizeTrials(trials: VictimTrial[]): VictimSummary {
  const successes = trials.filter((t) => t.success).length;
  const n = trials.length;
  return {
    targetSuccess: n ? successes / n : NaN,
    ci: wilsonInterval(successes, n),
    successes,
    trials: n,
    validationAccuracy: n ? trials.reduce((a, t) => a + t.validationAccuracy, 0) / n : NaN,
  };
}
