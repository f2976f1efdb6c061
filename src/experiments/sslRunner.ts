import { existsSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { tf } from '../engine/tf.js';
import { initBackend, describeBackend } from '../engine/backend.js';
import { HemlockInputError } from '../engine/errors.js';
import { Rng } from '../engine/rng.js';
import type { TrainTest } from '../data/builtin.js';
import type { ImageDataset } from '../data/dataset.js';
import { stratifiedSplit } from '../data/splits.js';
import { confusionMatrix, perClassAccuracy } from '../eval/metrics.js';
import { buildModel, type ModelName, type ModelSpec } from '../models/registry.js';
import { disposeModule } from '../models/module.js';
import { loadModel, saveModel, type ModelManifest } from '../models/io.js';
import type { Classifier } from '../models/classifier.js';
import type { StepProgress } from '../train/trainer.js';
import { fineTune, imagesSha256, linearProbe, type ProbeResult } from '../train/probe.js';
import { pretrainSsl, SSL_TRAINER_VERSION, type SslEpochRecord, type UnlabeledImages } from '../train/ssl/pretrain.js';
import type { Encoder, SslConfig } from '../train/ssl/types.js';
import { canonicalJson } from './records.js';
import { flipAllowed, loadExperimentData, modelSpecFor } from './data.js';
import { defaultCacheDir, EncoderCache, encoderHash, ENCODER_CACHE_FORMAT, type EncoderCacheKey } from './encoderCache.js';
import { ProbeSchema, type Experiment } from './schema.js';
import type { RunOptions, RunResult, TrainMetrics } from './runner.js';
import { openRun } from './openRun.js';

/**
 * Self-supervised experiments (issue 4): pre-train the model body on the
 * training images without labels (through the encoder cache), then evaluate
 * it downstream with a linear probe or fine-tuning — optionally on other data
 * (transfer) and against a randomly initialised encoder of the same seed.
 */

export type PretrainSection = NonNullable<Experiment['pretrain']>;
export type ProbeSection = NonNullable<Experiment['probe']>;
export type ExperimentWithPretrain = Experiment & { pretrain: PretrainSection };

/** The pre-training config the trainer gets ('auto' flip resolved for the dataset). */
export function resolveSslConfig(p: PretrainSection, datasetName: string): SslConfig {
  return { ...p, augment: { ...p.augment, flip: p.augment.flip === 'auto' ? flipAllowed(datasetName) : p.augment.flip } };
}

export function defaultProbe(): ProbeSection {
  return ProbeSchema.parse({ mode: 'linear' });
}

export interface PretrainCachedOptions {
  /** Cache root (its encoders/ and features/ folders); default defaultCacheDir(). */
  cacheDir?: string;
  onStep?: (p: StepProgress) => void;
  onLog?: (line: string) => void;
  /** The experiment's data, when the caller has loaded it already. */
  data?: TrainTest;
  /**
   * A poisoned pre-training set (T2/T3 attacks): its images are pre-trained on
   * instead of data.train, and the sha256 of its poison manifest enters the key.
   */
  poisoned?: { train: UnlabeledImages; manifestSha256: string };
}

export interface PretrainOutcome {
  encoderHash: string;
  /** The saved encoder (hemlock model format; use its body). */
  encoderDir: string;
  cacheHit: boolean;
  knnAccuracy: number | null;
  history: SslEpochRecord[];
  pretrainSeconds: number;
  resumedFromEpoch: number;
  modelSpec: ModelSpec;
  key: EncoderCacheKey;
}

function subsetLimit(ds: ImageDataset, n: number, rng: Rng): ImageDataset {
  if (n >= ds.count) return ds;
  if (n < ds.numClasses) return ds.subset(rng.sample(ds.count, n));
  const [keep] = stratifiedSplit(ds.labels, { counts: [n, ds.count - n] }, rng);
  return ds.subset(keep!);
}

/** The cache key of the encoder `exp` pre-trains (on `images`). */
export function encoderCacheKey(exp: ExperimentWithPretrain, images: UnlabeledImages, spec: ModelSpec, poisonManifestSha256: string | null): EncoderCacheKey {
  // A dataset directory is named by its folder name: the pixels' sha256 below is its identity, wherever it lives.
  const dataset = existsSync(exp.data.dataset) ? `dir:${basename(resolve(exp.data.dataset))}` : exp.data.dataset;
  return {
    format: ENCODER_CACHE_FORMAT,
    data: {
      dataset,
      split: 'train',
      classes: exp.data.classes ?? null,
      trainLimit: exp.data.trainLimit ?? null,
      count: images.images.length / (images.height * images.width * images.channels),
      shape: [images.height, images.width, images.channels],
      imagesSha256: imagesSha256(images),
    },
    poisonManifestSha256,
    method: exp.pretrain.method,
    // Everything but the k-NN monitor, which reads the weights and never changes them.
    config: (({ knn: _knn, ...rest }) => rest)(resolveSslConfig(exp.pretrain, exp.data.dataset)),
    model: { architecture: spec.architecture, options: spec.options, inputShape: spec.inputShape },
    seed: exp.seed,
    trainerVersion: SSL_TRAINER_VERSION,
  };
}

function fmtPct(x: number | null | undefined): string {
  return x === null || x === undefined ? '-' : `${(x * 100).toFixed(2)}%`;
}

/**
 * Returns the encoder `exp.pretrain` describes: from the cache when an entry
 * with the same key exists (no training), else pre-trained — resuming from the
 * key's checkpoints if an earlier run was interrupted — and published to the cache.
 */
export async function pretrainCached(exp: ExperimentWithPretrain, opts: PretrainCachedOptions = {}): Promise<PretrainOutcome> {
  const log = opts.onLog ?? (() => undefined);
  const data = opts.data ?? (await loadExperimentData(exp.data, exp.seed));
  const images: UnlabeledImages = opts.poisoned?.train ?? data.train;
  const spec = modelSpecFor(exp, data);
  const key = encoderCacheKey(exp, images, spec, opts.poisoned?.manifestSha256 ?? null);
  const hash = encoderHash(key);
  const cache = new EncoderCache(opts.cacheDir ?? defaultCacheDir());
  const fromEntry = (cacheHit: boolean): PretrainOutcome | null => {
    const entry = cache.lookup(hash);
    if (!entry) return null;
    const r = entry.result as { knnAccuracy: number | null; history: SslEpochRecord[]; pretrainSeconds: number; resumedFromEpoch: number };
    return {
      encoderHash: hash,
      encoderDir: cache.encoderDir(hash),
      cacheHit,
      knnAccuracy: r.knnAccuracy,
      history: r.history,
      pretrainSeconds: r.pretrainSeconds,
      resumedFromEpoch: r.resumedFromEpoch,
      modelSpec: spec,
      key,
    };
  };
  const hit = fromEntry(true);
  if (hit) {
    log(`encoder cache hit ${hash.slice(0, 12)}: ${hit.encoderDir} (no training; kNN ${fmtPct(hit.knnAccuracy)})`);
    return hit;
  }
  const release = cache.lock(hash);
  let model: Classifier | null = null;
  try {
    const raced = fromEntry(true); // published by another process meanwhile
    if (raced) return raced;
    const cfg = resolveSslConfig(exp.pretrain, exp.data.dataset);
    model = buildModel(spec, exp.seed);
    const rng = new Rng(`knn/${exp.seed}`);
    const monitor = { bank: subsetLimit(data.train, cfg.knn.bankLimit, rng.fork('bank')), query: subsetLimit(data.test, cfg.knn.queryLimit, rng.fork('query')), numClasses: data.train.numClasses };
    const n = key.data.count;
    log(`pre-training ${cfg.method} on ${n} images of ${exp.data.dataset} (${cfg.epochs} epochs, batch ${cfg.batchSize}); encoder ${hash.slice(0, 12)}`);
    const t0 = performance.now();
    const result = await pretrainSsl(model.body, images, cfg, exp.seed, {
      checkpointDir: cache.checkpointDir(hash),
      monitor,
      ...(opts.onStep ? { onStep: opts.onStep } : {}),
      onResume: (e) => log(`resumed from the checkpoint after epoch ${e}`),
      onEpochEnd: (r) => log(`epoch ${r.epoch}/${cfg.epochs}: loss ${r.loss.toFixed(4)}, kNN ${fmtPct(r.knnAccuracy)} (${r.seconds.toFixed(1)} s)`),
    });
    const pretrainSeconds = (performance.now() - t0) / 1000;
    const summary = { knnAccuracy: result.knnAccuracy, knn: cfg.knn, history: result.history, pretrainSeconds, resumedFromEpoch: result.resumedFromEpoch, steps: result.steps, backend: tf.getBackend() };
    const m = model;
    await cache.commit(key, summary, (dir) =>
      saveModel(m, spec, dir, {
        role: 'ssl-encoder',
        note: 'pre-trained body; the head is untrained (use the body as the encoder)',
        method: cfg.method,
        encoderHash: hash,
        seed: exp.seed,
        dataset: exp.data.dataset,
        classes: exp.data.classes ?? null,
      }).then(() => undefined),
    );
    log(`encoder saved: ${cache.encoderDir(hash)} (kNN ${fmtPct(result.knnAccuracy)}, ${pretrainSeconds.toFixed(1)} s)`);
    return { ...fromEntry(false)!, cacheHit: false, pretrainSeconds, resumedFromEpoch: result.resumedFromEpoch };
  } finally {
    if (model) disposeModule(model);
    release();
  }
}

/** Where an encoder given on the command line lives: a model folder, a cache entry, or a run folder. */
export function resolveEncoderDir(path: string): string {
  for (const candidate of [path, join(path, 'encoder'), join(path, 'artifacts', 'encoder'), join(path, 'artifacts', 'model')]) {
    if (existsSync(join(candidate, 'manifest.json')) && existsSync(join(candidate, 'model.json'))) return candidate;
  }
  throw new HemlockInputError(`--encoder: ${path} is not a hemlock model folder, encoder cache entry or run folder (no manifest.json)`);
}

export interface LoadedEncoder {
  encoder: Encoder;
  /** Identity of the weights, for the feature cache. */
  id: string;
  spec: ModelSpec;
  manifest?: ModelManifest;
  dispose: () => void;
}

/** `random:<architecture>` (a freshly initialised body for `shapeOf`'s images) or a saved model's body. */
export async function loadEncoder(ref: string, shapeOf: TrainTest, seed: number, options: Record<string, unknown> = {}): Promise<LoadedEncoder> {
  if (ref.startsWith('random:')) {
    const arch = ref.slice('random:'.length);
    const spec: ModelSpec = {
      architecture: arch as ModelName,
      inputShape: [shapeOf.train.height, shapeOf.train.width, shapeOf.train.channels],
      numClasses: shapeOf.train.numClasses,
      head: 'linear',
      options,
    };
    const model = buildModel(spec, seed);
    return { encoder: model.body, id: `random|${canonicalJson({ architecture: spec.architecture, inputShape: spec.inputShape, options })}|${seed}`, spec, dispose: () => disposeModule(model) };
  }
  const dir = resolveEncoderDir(ref);
  const { model, spec, manifest } = await loadModel(dir);
  const [h, w, c] = spec.inputShape;
  const d = shapeOf.train;
  if (c !== d.channels || (spec.architecture === 'mlp' && (h !== d.height || w !== d.width))) {
    disposeModule(model);
    throw new HemlockInputError(`--encoder: ${dir} takes ${h}×${w}×${c} images but the data has ${d.height}×${d.width}×${d.channels}`);
  }
  return { encoder: model.body, id: `weights|${manifest.files['weights.bin']}|${canonicalJson(spec)}`, spec, manifest, dispose: () => disposeModule(model) };
}

/** Runs the probe section on an encoder: a linear probe (features cached under <cacheDir>/features) or fine-tuning. */
export async function runProbe(
  loaded: LoadedEncoder,
  data: TrainTest,
  probe: ProbeSection,
  seed: number,
  opts: { cacheDir?: string | null; datasetName: string; onStep?: (p: StepProgress) => void },
): Promise<ProbeResult> {
  const numClasses = data.train.numClasses;
  if (probe.mode === 'linear') {
    const featureDir = opts.cacheDir === null ? undefined : join(opts.cacheDir ?? defaultCacheDir(), 'features');
    return linearProbe(
      loaded.encoder,
      data.train,
      data.test,
      numClasses,
      { epochs: probe.epochs, ...(probe.batchSize ? { batchSize: probe.batchSize } : {}), optimizer: probe.optimizer, schedule: probe.schedule, standardize: probe.standardize, seed },
      featureDir ? { featureCache: { dir: featureDir, encoderId: loaded.id } } : {},
    );
  }
  const augment = { ...probe.augment, flip: probe.augment.flip === 'auto' ? flipAllowed(opts.datasetName) : probe.augment.flip };
  return fineTune(loaded.encoder, data.train, data.test, numClasses, { epochs: probe.epochs, batchSize: probe.batchSize, optimizer: probe.optimizer, schedule: probe.schedule, augment, seed }, opts.onStep ? { onStep: opts.onStep } : {});
}

export interface SslMetrics extends TrainMetrics {
  kind: 'ssl';
  method: string;
  encoderHash: string;
  encoderDir: string;
  cacheHit: boolean;
  knnAccuracy: number | null;
  probeMode: 'linear' | 'finetune';
  probeDataset: string;
  probeClasses: number[] | null;
  probeSeconds: number;
  /** The same probe on a randomly initialised encoder (same architecture and seed), when probe.baseline. */
  baselineTestAccuracy: number | null;
  /** testAccuracy − baselineTestAccuracy. */
  gainOverRandom: number | null;
}

/**
 * An experiment with a `pretrain` section: pre-train (or take from the cache)
 * → probe → (random-init baseline probe) → one run record.
 */
export async function runSslExperiment(exp: ExperimentWithPretrain, opts: RunOptions & { cacheDir?: string } = {}): Promise<RunResult & { metrics: SslMetrics }> {
  const backend = await initBackend(exp.backend === 'auto' ? undefined : exp.backend);
  const probe = exp.probe ?? defaultProbe();
  // Data first: bad input fails before any run folder exists.
  const data = await loadExperimentData(exp.data, exp.seed);
  const probeData = probe.data ? await loadExperimentData(probe.data, exp.seed) : data;
  if (probeData.train.channels !== data.train.channels) {
    throw new HemlockInputError(`probe.data: ${probe.data?.dataset} has ${probeData.train.channels} channels but the pre-training data has ${data.train.channels}`);
  }
  const { record, resumed, log } = await openRun(exp, backend, opts);
  log(`${describeBackend(backend)}; run ${record.manifest.runId}${resumed ? ' (resuming)' : ''}`);
  try {
    const outcome = await pretrainCached(exp, { data, onLog: log, ...(opts.cacheDir ? { cacheDir: opts.cacheDir } : {}), ...(opts.onStep ? { onStep: opts.onStep } : {}) });
    const probeName = probe.data?.dataset ?? exp.data.dataset;
    const probeOpts = { ...(opts.cacheDir ? { cacheDir: opts.cacheDir } : {}), datasetName: probeName };
    const loaded = await loadEncoder(outcome.encoderDir, probeData, exp.seed);
    let result: ProbeResult;
    try {
      result = await runProbe(loaded, probeData, probe, exp.seed, probeOpts);
    } finally {
      loaded.dispose();
    }
    log(`${probe.mode} probe on ${probeName}: test accuracy ${fmtPct(result.testAccuracy)} (train ${fmtPct(result.trainAccuracy)}, ${result.seconds.toFixed(1)} s)`);
    let baseline: number | null = null;
    if (probe.baseline) {
      const random = await loadEncoder(`random:${exp.model.architecture}`, probeData, exp.seed, exp.model.options);
      try {
        baseline = (await runProbe(random, probeData, probe, exp.seed, probeOpts)).testAccuracy;
      } finally {
        random.dispose();
      }
      log(`random-init ${exp.model.architecture} ${probe.mode} probe: test accuracy ${fmtPct(baseline)}`);
    }
    const k = probeData.train.numClasses;
    const metrics: SslMetrics = {
      kind: 'ssl',
      testAccuracy: result.testAccuracy,
      trainAccuracy: result.trainAccuracy,
      perClassAccuracy: perClassAccuracy(result.testPredictions, probeData.test.labels, k),
      confusion: confusionMatrix(result.testPredictions, probeData.test.labels, k),
      classNames: probeData.test.classNames,
      finalLoss: outcome.history.at(-1)?.loss ?? NaN,
      epochs: exp.pretrain.epochs,
      trainSeconds: outcome.pretrainSeconds,
      history: outcome.history as unknown as Record<string, number>[],
      seed: exp.seed,
      backend: backend.name,
      dataset: exp.data.dataset,
      model: exp.model.architecture,
      method: exp.pretrain.method,
      encoderHash: outcome.encoderHash,
      encoderDir: outcome.encoderDir,
      cacheHit: outcome.cacheHit,
      knnAccuracy: outcome.knnAccuracy,
      probeMode: probe.mode,
      probeDataset: probeName,
      probeClasses: (probe.data ?? exp.data).classes ?? null,
      probeSeconds: result.seconds,
      baselineTestAccuracy: baseline,
      gainOverRandom: baseline === null ? null : result.testAccuracy - baseline,
    };
    await record.complete(metrics);
    log(`done: ${exp.pretrain.method} probe ${fmtPct(metrics.testAccuracy)} vs random-init ${fmtPct(baseline)}; kNN ${fmtPct(metrics.knnAccuracy)}; numTensors ${tf.memory().numTensors}`);
    return { runDir: record.dir, runId: record.manifest.runId, metrics, resumed };
  } catch (e) {
    await record.fail(e);
    throw e;
  }
}
