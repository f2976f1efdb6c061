import { tf, type Tensor, type Variable } from '../engine/tf.js';
import { Rng } from '../engine/rng.js';
import type { Module } from '../models/module.js';
import { augment, type AugmentConfig } from './augment.js';
import { crossEntropy } from './losses.js';
import { learningRateAt, type Schedule } from './schedules.js';
import { Optimizer, type OptimizerConfig } from './optimizers.js';
import { countOf, gatherBatch, type ImageArrays } from './batches.js';
import { loadCheckpoint, saveCheckpoint } from './checkpoint.js';

export interface SupervisedConfig {
  epochs: number;
  batchSize: number;
  optimizer: OptimizerConfig;
  schedule: Schedule;
  augment: AugmentConfig;
  seed: number;
}

export interface StepProgress {
  epoch: number;
  epochs: number;
  step: number;
  stepsPerEpoch: number;
  loss: number;
  lr: number;
}

export interface EpochRecord {
  epoch: number;
  loss: number;
  lr: number;
  seconds: number;
  /** Filled in when the caller's onEpochEnd returns an evaluation. */
  [extra: string]: number;
}

export interface TrainOptions {
  onStep?: (p: StepProgress) => void;
  /** Called after each epoch; numbers it returns are added to the epoch record. */
  onEpochEnd?: (epoch: number) => Record<string, number> | void;
  /** Directory for per-epoch checkpoints; training resumes from the last one found there. */
  checkpointDir?: string;
  /** Called when training resumed from a checkpoint. */
  onResume?: (epoch: number) => void;
}

export interface TrainResult {
  history: EpochRecord[];
  resumedFromEpoch: number;
  steps: number;
}

/**
 * One supervised step: forward with augmentation, cross-entropy, backward,
 * optimizer update, batch-norm state update. Returns the loss (a scalar the
 * caller must dispose). Everything else is freed inside.
 */
export function supervisedStep(
  model: Module,
  optimizer: Optimizer,
  x: tf.Tensor4D,
  y: tf.Tensor1D,
  augmentCfg: AugmentConfig,
  rng: Rng,
): Tensor {
  const variables = Object.values(model.params) as Variable[];
  const updates: { variable: Variable; value: Tensor }[] = [];
  const loss = tf.tidy(() => {
    const xa = augment(x, augmentCfg, rng);
    const { value, grads } = tf.variableGrads(
      () => crossEntropy(model.apply(xa, { training: true, stateUpdates: updates }), y) as tf.Scalar,
      variables,
    );
    optimizer.apply(grads, variables);
    return value;
  });
  for (const u of updates) {
    u.variable.assign(u.value);
    u.value.dispose();
  }
  return loss;
}

/**
 * Supervised training with seeded shuffling and augmentation. Randomness for
 * epoch e comes from streams forked by e, so a run resumed from a checkpoint
 * after epoch e continues with exactly the numbers an uninterrupted run uses.
 */
export async function trainSupervised(model: Module, data: ImageArrays, cfg: SupervisedConfig, opts: TrainOptions = {}): Promise<TrainResult> {
  const n = countOf(data);
  const stepsPerEpoch = Math.ceil(n / cfg.batchSize);
  const totalSteps = stepsPerEpoch * cfg.epochs;
  const optimizer = new Optimizer(cfg.optimizer);
  const rng = new Rng(`train/${cfg.seed}`);
  let history: EpochRecord[] = [];
  let startEpoch = 0;
  let globalStep = 0;
  try {
    if (opts.checkpointDir) {
      const meta = await loadCheckpoint<EpochRecord, never>(opts.checkpointDir, { ...model.params, ...model.buffers }, optimizer);
      if (meta) {
        startEpoch = meta.epoch;
        history = meta.history;
        globalStep = meta.steps;
        opts.onResume?.(startEpoch);
      }
    }
    for (let epoch = startEpoch; epoch < cfg.epochs; epoch++) {
      const t0 = performance.now();
      const order = rng.fork(`order/${epoch}`).permutation(n);
      const augRng = rng.fork(`augment/${epoch}`);
      let lossSum = 0;
      let lr = 0;
      for (let step = 0; step < stepsPerEpoch; step++) {
        lr = learningRateAt(cfg.optimizer.lr, cfg.schedule, globalStep, totalSteps);
        optimizer.setLearningRate(lr);
        const { x, y } = gatherBatch(data, order.subarray(step * cfg.batchSize, Math.min(n, (step + 1) * cfg.batchSize)));
        const lossT = supervisedStep(model, optimizer, x, y, cfg.augment, augRng);
        x.dispose();
        y.dispose();
        const loss = (await lossT.data())[0]!;
        lossT.dispose();
        if (!Number.isFinite(loss)) throw new Error(`training diverged: loss ${loss} at epoch ${epoch + 1}, step ${step + 1} (lower the learning rate)`);
        lossSum += loss;
        globalStep++;
        opts.onStep?.({ epoch: epoch + 1, epochs: cfg.epochs, step: step + 1, stepsPerEpoch, loss, lr });
      }
      const record: EpochRecord = { epoch: epoch + 1, loss: lossSum / stepsPerEpoch, lr, seconds: (performance.now() - t0) / 1000 };
      Object.assign(record, opts.onEpochEnd?.(epoch + 1) ?? {});
      history.push(record);
      if (opts.checkpointDir) await saveCheckpoint(opts.checkpointDir, { ...model.params, ...model.buffers }, optimizer, { epoch: epoch + 1, history, steps: globalStep });
    }
    return { history, resumedFromEpoch: startEpoch, steps: globalStep };
  } finally {
    optimizer.dispose();
  }
}
