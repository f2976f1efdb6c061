import { tf, type Tensor, type Tensor4D, type Variable } from '../../engine/tf.js';
import { Rng } from '../../engine/rng.js';
import { Optimizer } from '../optimizers.js';
import { learningRateAt } from '../schedules.js';
import { loadCheckpoint, saveCheckpoint } from '../checkpoint.js';
import type { ImageArrays } from '../batches.js';
import type { StepProgress } from '../trainer.js';
import { sslAugment, type SslAugmentConfig } from './sslAugment.js';
import { createSimclr } from './simclr.js';
import { createMoco } from './moco.js';
import { createByol } from './byol.js';
import { createBarlowTwins } from './barlowTwins.js';
import { knnAccuracy } from './knn.js';
import type { Encoder, SslConfig, SslMethod } from './types.js';

/**
 * Version of everything that decides what a pre-training run computes (this
 * loop, the methods, the augmentations). Part of the encoder-cache key: bump
 * it whenever a change would give different weights for the same spec.
 */
export const SSL_TRAINER_VERSION = 'hemlock-ssl/1';

/** Pre-training needs images only; labels, if present, are ignored. */
export interface UnlabeledImages {
  images: Float32Array;
  height: number;
  width: number;
  channels: number;
}

export function imageCount(d: UnlabeledImages): number {
  return d.images.length / (d.height * d.width * d.channels);
}

/** Copies the images at `indices` into an NHWC batch. */
export function gatherImages(d: UnlabeledImages, indices: ArrayLike<number>): Tensor4D {
  const size = d.height * d.width * d.channels;
  const xs = new Float32Array(indices.length * size);
  for (let j = 0; j < indices.length; j++) {
    const i = indices[j]!;
    xs.set(d.images.subarray(i * size, (i + 1) * size), j * size);
  }
  return tf.tensor4d(xs, [indices.length, d.height, d.width, d.channels]);
}

export interface SslEpochRecord {
  epoch: number;
  loss: number;
  lr: number;
  seconds: number;
  knnAccuracy?: number;
}

/** Labelled data for the k-NN monitor: a memory bank and queries (both from the pre-training distribution). */
export interface KnnMonitorData {
  bank: ImageArrays;
  query: ImageArrays;
  numClasses: number;
}

export interface PretrainOptions {
  onStep?: (p: StepProgress) => void;
  onEpochEnd?: (record: SslEpochRecord) => void;
  /** Directory for per-epoch checkpoints; pre-training resumes from the last one found there. */
  checkpointDir?: string;
  onResume?: (epoch: number) => void;
  monitor?: KnnMonitorData;
}

export interface PretrainResult {
  history: SslEpochRecord[];
  resumedFromEpoch: number;
  steps: number;
  /** k-NN accuracy of the final encoder on the monitor data (null without monitor). */
  knnAccuracy: number | null;
}

/** Builds the method `cfg.method` around `encoder` (heads initialised from `rng`). */
export function createSslMethod(encoder: Encoder, cfg: SslConfig, rng: Rng): SslMethod {
  switch (cfg.method) {
    case 'simclr':
      return createSimclr(encoder, cfg, rng);
    case 'moco':
      return createMoco(encoder, cfg, rng);
    case 'byol':
      return createByol(encoder, cfg, rng);
    case 'barlow':
      return createBarlowTwins(encoder, cfg, rng);
  }
}

/**
 * One SSL step: two augmented views, the method's targets (no gradient), its
 * loss and gradients, the optimizer update, the method's post-update work
 * (EMA, queue) and batch-norm state updates. Returns the loss (the caller
 * disposes it); everything else is freed inside.
 */
export function sslStep(method: SslMethod, optimizer: Optimizer, x: Tensor4D, augment: SslAugmentConfig, rng: Rng, progress: number): Tensor {
  const updates: { variable: Variable; value: Tensor }[] = [];
  const loss = tf.tidy(() => {
    const v1 = sslAugment(x, augment, rng);
    const v2 = sslAugment(x, augment, rng);
    const aux = method.targets?.(v1, v2) ?? [];
    const { value, grads } = tf.variableGrads(
      () => method.loss(v1, v2, aux, { training: true, stateUpdates: updates }) as tf.Scalar,
      method.trainable,
    );
    optimizer.apply(grads, method.trainable);
    method.afterUpdate?.(aux, progress);
    return value;
  });
  for (const u of updates) {
    u.variable.assign(u.value);
    u.value.dispose();
  }
  return loss;
}

/** Every tensor a checkpoint must hold: the encoder's and the method's, under distinct prefixes. */
function checkpointTensors(encoder: Encoder, method: SslMethod): Record<string, Variable> {
  const out: Record<string, Variable> = {};
  for (const [k, v] of Object.entries({ ...encoder.params, ...encoder.buffers })) out[`encoder/${k}`] = v;
  for (const [k, v] of Object.entries(method.state)) out[`method/${k}`] = v;
  return out;
}

/**
 * Self-supervised pre-training of `encoder` (in place) on unlabeled images.
 * Shuffling and augmentation for epoch e come from streams forked by e, and
 * every piece of state (encoder, heads, target network, queue and its
 * pointer, optimizer moments) is checkpointed after each epoch, so a run
 * resumed from a checkpoint ends with the same weights as an uninterrupted one.
 * The last incomplete batch of an epoch is dropped (contrastive losses need full batches).
 */
export async function pretrainSsl(encoder: Encoder, data: UnlabeledImages, cfg: SslConfig, seed: number, opts: PretrainOptions = {}): Promise<PretrainResult> {
  const n = imageCount(data);
  const batchSize = Math.min(cfg.batchSize, n);
  if (batchSize < 2) throw new Error(`SSL pre-training needs at least 2 images per batch (have ${n})`);
  const stepsPerEpoch = Math.floor(n / batchSize);
  const totalSteps = stepsPerEpoch * cfg.epochs;
  const rng = new Rng(`ssl/${seed}`);
  const method = createSslMethod(encoder, cfg, rng.fork('method'));
  const optimizer = new Optimizer(cfg.optimizer);
  let history: SslEpochRecord[] = [];
  let startEpoch = 0;
  let globalStep = 0;
  const monitor = (): number | undefined =>
    opts.monitor ? knnAccuracy(encoder, opts.monitor.bank, opts.monitor.query, opts.monitor.numClasses, cfg.knn) : undefined;
  try {
    if (opts.checkpointDir) {
      const meta = await loadCheckpoint<SslEpochRecord, Record<string, number>>(opts.checkpointDir, checkpointTensors(encoder, method), optimizer);
      if (meta) {
        startEpoch = meta.epoch;
        history = meta.history;
        globalStep = meta.steps;
        if (meta.extra) method.setExtra?.(meta.extra);
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
        const x = gatherImages(data, order.subarray(step * batchSize, (step + 1) * batchSize));
        const lossT = sslStep(method, optimizer, x, cfg.augment, augRng, (globalStep + 1) / totalSteps);
        x.dispose();
        const loss = (await lossT.data())[0]!;
        lossT.dispose();
        if (!Number.isFinite(loss)) {
          throw new Error(`${cfg.method} pre-training diverged: loss ${loss} at epoch ${epoch + 1}, step ${step + 1} (lower the learning rate)`);
        }
        lossSum += loss;
        globalStep++;
        opts.onStep?.({ epoch: epoch + 1, epochs: cfg.epochs, step: step + 1, stepsPerEpoch, loss, lr });
      }
      const record: SslEpochRecord = { epoch: epoch + 1, loss: lossSum / stepsPerEpoch, lr, seconds: (performance.now() - t0) / 1000 };
      const last = epoch + 1 === cfg.epochs;
      if (last || (cfg.knn.every > 0 && (epoch + 1) % cfg.knn.every === 0)) {
        const acc = monitor();
        if (acc !== undefined) record.knnAccuracy = acc;
      }
      history.push(record);
      opts.onEpochEnd?.(record);
      if (opts.checkpointDir) {
        await saveCheckpoint(opts.checkpointDir, checkpointTensors(encoder, method), optimizer, {
          epoch: epoch + 1,
          history,
          steps: globalStep,
          ...(method.getExtra ? { extra: method.getExtra() } : {}),
        });
      }
    }
    let final = history.at(-1)?.knnAccuracy;
    if (final === undefined && opts.monitor) final = monitor();
    return { history, resumedFromEpoch: startEpoch, steps: globalStep, knnAccuracy: final ?? null };
  } finally {
    optimizer.dispose();
    method.dispose();
  }
}
