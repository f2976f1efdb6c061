import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tf, type Tensor, type Variable } from '../engine/tf.js';
import { Rng } from '../engine/rng.js';
import { sha256, writeFileAtomic, writeJsonAtomic } from '../engine/files.js';
import { accuracy } from '../eval/metrics.js';
import { classifier } from '../models/classifier.js';
import { linearHead } from '../models/heads.js';
import { disposeModule, type Module } from '../models/module.js';
import type { AugmentConfig } from './augment.js';
import { batchRanges, type ImageArrays } from './batches.js';
import { evaluateClassifier, predictLabels } from './evaluate.js';
import { crossEntropy } from './losses.js';
import { Optimizer, type OptimizerConfig } from './optimizers.js';
import { learningRateAt, type Schedule } from './schedules.js';
import { trainSupervised, type TrainOptions } from './trainer.js';

/**
 * Downstream evaluation of an encoder as its users would do it: a linear
 * probe on frozen features (computed once, optionally cached on disk), or
 * full fine-tuning of encoder + linear head.
 */

interface ImagesOnly {
  images: Float32Array;
  height: number;
  width: number;
  channels: number;
}

export interface Features {
  features: Float32Array;
  count: number;
  dim: number;
}

/** The encoder's features of every image, in inference mode, batch by batch. */
export function extractFeatures(encoder: Module, d: ImagesOnly, batchSize = 256): Features {
  const size = d.height * d.width * d.channels;
  const n = d.images.length / size;
  const chunks: Float32Array[] = [];
  let dim = 0;
  for (const [s, e] of batchRanges(n, batchSize)) {
    const f = tf.tidy(() => encoder.apply(tf.tensor4d(d.images.subarray(s * size, e * size), [e - s, d.height, d.width, d.channels]), { training: false }));
    dim = f.shape[1]!;
    chunks.push(f.dataSync() as Float32Array);
    f.dispose();
  }
  const features = new Float32Array(n * dim);
  let off = 0;
  for (const c of chunks) {
    features.set(c, off);
    off += c.length;
  }
  return { features, count: n, dim };
}

/** sha256 of a dataset's pixels and shape: its identity for caches. */
export function imagesSha256(d: ImagesOnly & { labels?: Int32Array }, withLabels = false): string {
  const h = createHash('sha256').update(`${d.height}x${d.width}x${d.channels}:${d.images.length}\n`);
  h.update(new Uint8Array(d.images.buffer, d.images.byteOffset, d.images.byteLength));
  if (withLabels && d.labels) h.update(new Uint8Array(d.labels.buffer, d.labels.byteOffset, d.labels.byteLength));
  return h.digest('hex');
}

/**
 * Features from the on-disk cache `dir` under `key` (a string naming the
 * encoder and the data), or computed and stored there (binary + JSON meta
 * written atomically, meta last).
 */
export async function cachedFeatures(dir: string | undefined, key: string, compute: () => Features): Promise<Features & { cacheHit: boolean }> {
  if (!dir) return { ...compute(), cacheHit: false };
  const id = sha256(key);
  const metaPath = join(dir, `${id}.json`);
  const binPath = join(dir, `${id}.f32`);
  if (existsSync(metaPath) && existsSync(binPath)) {
    try {
      const meta = JSON.parse(readFileSync(metaPath, 'utf8')) as { key: string; count: number; dim: number; sha256: string };
      const bytes = readFileSync(binPath);
      if (meta.key === key && sha256(bytes) === meta.sha256 && bytes.byteLength === meta.count * meta.dim * 4) {
        const features = new Float32Array(new Uint8Array(bytes).buffer);
        return { features, count: meta.count, dim: meta.dim, cacheHit: true };
      }
    } catch {
      // An unreadable entry is recomputed and overwritten below.
    }
  }
  const f = compute();
  const bytes = new Uint8Array(f.features.buffer, f.features.byteOffset, f.features.byteLength);
  await writeFileAtomic(binPath, bytes);
  await writeJsonAtomic(metaPath, { key, count: f.count, dim: f.dim, sha256: sha256(bytes) });
  return { ...f, cacheHit: false };
}

export interface LinearProbeConfig {
  /** Full-batch steps, or minibatch epochs when batchSize is set. */
  epochs: number;
  /** Minibatch size; undefined = full batch. */
  batchSize?: number;
  optimizer: OptimizerConfig;
  schedule: Schedule;
  /** Standardise each feature with the training set's mean and std first. */
  standardize: boolean;
  seed: number;
}

export interface LinearProbeModel {
  weights: Float32Array;
  bias: Float32Array;
  mean: Float32Array;
  std: Float32Array;
  dim: number;
  numClasses: number;
  finalLoss: number;
}

function standardizer(f: Features, on: boolean): { mean: Float32Array; std: Float32Array } {
  const mean = new Float32Array(f.dim);
  const std = new Float32Array(f.dim).fill(1);
  if (!on) return { mean, std };
  const sum = new Float64Array(f.dim);
  const sq = new Float64Array(f.dim);
  for (let i = 0; i < f.count; i++)
    for (let j = 0; j < f.dim; j++) {
      const v = f.features[i * f.dim + j]!;
      sum[j] += v;
      sq[j] += v * v;
    }
  const variance = new Float64Array(f.dim);
  for (let j = 0; j < f.dim; j++) {
    mean[j] = sum[j]! / f.count;
    variance[j] = Math.max(0, sq[j]! / f.count - mean[j]! * mean[j]!);
  }
  // A floor relative to the typical variance: a feature (nearly) constant on
  // the training set — a dead ReLU unit — must not be blown up on test data.
  const eps = 1e-3 * (variance.reduce((a, b) => a + b, 0) / f.dim) + 1e-12;
  for (let j = 0; j < f.dim; j++) std[j] = Math.sqrt(variance[j]! + eps);
  return { mean, std };
}

/** Multinomial logistic regression on (standardised) features: softmax cross-entropy, full batch or minibatches. */
export function trainLinearProbe(train: Features, labels: Int32Array, numClasses: number, cfg: LinearProbeConfig): LinearProbeModel {
  const { mean, std } = standardizer(train, cfg.standardize);
  const rng = new Rng(`probe/${cfg.seed}`);
  // tidy frees the zero tensors the variables were initialised from (variables survive it).
  const w = tf.tidy(() => tf.variable(tf.zeros([train.dim, numClasses]), true, `probe/w#${nextProbeId}`));
  const b = tf.tidy(() => tf.variable(tf.zeros([numClasses]), true, `probe/b#${nextProbeId++}`));
  const optimizer = new Optimizer(cfg.optimizer);
  const X = tf.tidy(() => tf.div(tf.sub(tf.tensor2d(train.features, [train.count, train.dim]), tf.tensor1d(mean)), tf.tensor1d(std)));
  const Y = tf.tensor1d(labels, 'int32');
  const vars: Variable[] = [w, b];
  let finalLoss = NaN;
  try {
    const bs = cfg.batchSize && cfg.batchSize < train.count ? cfg.batchSize : train.count;
    const stepsPerEpoch = Math.ceil(train.count / bs);
    const total = stepsPerEpoch * cfg.epochs;
    let step = 0;
    for (let epoch = 0; epoch < cfg.epochs; epoch++) {
      const order = bs < train.count ? rng.fork(`order/${epoch}`).permutation(train.count) : null;
      for (let s = 0; s < stepsPerEpoch; s++) {
        optimizer.setLearningRate(learningRateAt(cfg.optimizer.lr, cfg.schedule, step++, total));
        const loss = tf.tidy(() => {
          let xb: Tensor = X;
          let yb: Tensor = Y;
          if (order) {
            const idx = tf.tensor1d(order.subarray(s * bs, Math.min(train.count, (s + 1) * bs)), 'int32');
            xb = tf.gather(X, idx);
            yb = tf.gather(Y, idx);
          }
          const { value, grads } = tf.variableGrads(() => crossEntropy(tf.add(tf.matMul(xb as tf.Tensor2D, w), b), yb) as tf.Scalar, vars);
          optimizer.apply(grads, vars);
          return value;
        });
        if (epoch === cfg.epochs - 1 && s === stepsPerEpoch - 1) finalLoss = loss.dataSync()[0]!;
        loss.dispose();
      }
    }
    return { weights: w.dataSync() as Float32Array, bias: b.dataSync() as Float32Array, mean, std, dim: train.dim, numClasses, finalLoss };
  } finally {
    tf.dispose([w, b, X, Y]);
    optimizer.dispose();
  }
}
let nextProbeId = 0;

export function predictLinearProbe(model: LinearProbeModel, f: Features): Int32Array {
  return tf.tidy(() => {
    const X = tf.div(tf.sub(tf.tensor2d(f.features, [f.count, f.dim]), tf.tensor1d(model.mean)), tf.tensor1d(model.std));
    const logits = tf.add(tf.matMul(X, tf.tensor2d(model.weights, [model.dim, model.numClasses])), tf.tensor1d(model.bias));
    return tf.argMax(logits, 1).dataSync() as Int32Array;
  });
}

export interface ProbeResult {
  testAccuracy: number;
  trainAccuracy: number;
  finalLoss: number;
  /** Predicted class of every test sample. */
  testPredictions: Int32Array;
  /** Whether train / test features came from the on-disk cache. */
  featureCacheHit: boolean;
  seconds: number;
}

export interface LinearProbeOptions {
  /** Feature cache directory and the encoder's identity (e.g. its weights' sha256); no cache when absent. */
  featureCache?: { dir: string; encoderId: string };
}

/** Linear probe: frozen features of train and test, a logistic-regression head on train, accuracy on test. */
export async function linearProbe(
  encoder: Module,
  train: ImageArrays,
  test: ImageArrays,
  numClasses: number,
  cfg: LinearProbeConfig,
  opts: LinearProbeOptions = {},
): Promise<ProbeResult> {
  const t0 = performance.now();
  const feats = async (d: ImageArrays) =>
    cachedFeatures(opts.featureCache?.dir, `${opts.featureCache?.encoderId}|${imagesSha256(d)}`, () => extractFeatures(encoder, d));
  const ftrain = await feats(train);
  const ftest = await feats(test);
  const model = trainLinearProbe(ftrain, train.labels, numClasses, cfg);
  const testPredictions = predictLinearProbe(model, ftest);
  return {
    testAccuracy: accuracy(testPredictions, test.labels),
    testPredictions,
    trainAccuracy: accuracy(predictLinearProbe(model, ftrain), train.labels),
    finalLoss: model.finalLoss,
    featureCacheHit: ftrain.cacheHit && ftest.cacheHit,
    seconds: (performance.now() - t0) / 1000,
  };
}

export interface FineTuneConfig {
  epochs: number;
  batchSize: number;
  optimizer: OptimizerConfig;
  schedule: Schedule;
  augment: AugmentConfig;
  seed: number;
}

/**
 * Full fine-tuning: a new linear head on the encoder, all parameters trained
 * with the supervised trainer. The encoder is changed in place.
 */
export async function fineTune(
  encoder: Module & { featureDim: number },
  train: ImageArrays,
  test: ImageArrays,
  numClasses: number,
  cfg: FineTuneConfig,
  opts: Pick<TrainOptions, 'onStep' | 'checkpointDir'> = {},
): Promise<ProbeResult> {
  const t0 = performance.now();
  const head = linearHead(encoder.featureDim, numClasses, new Rng(`finetune/${cfg.seed}`).fork('head'));
  const model = classifier(encoder, head);
  try {
    const result = await trainSupervised(model, train, cfg, opts);
    const testPredictions = predictLabels(model, test);
    return {
      testAccuracy: accuracy(testPredictions, test.labels),
      testPredictions,
      trainAccuracy: evaluateClassifier(model, train, numClasses).accuracy,
      finalLoss: result.history.at(-1)?.loss ?? NaN,
      featureCacheHit: false,
      seconds: (performance.now() - t0) / 1000,
    };
  } finally {
    disposeModule(head);
  }
}
