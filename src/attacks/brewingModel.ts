import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { ImageDataset } from '../data/dataset.js';
import { buildModel, type ModelSpec } from '../models/registry.js';
import type { Classifier } from '../models/classifier.js';
import { disposeModule } from '../models/module.js';
import { loadModel, saveModel } from '../models/io.js';
import { trainSupervised, type StepProgress, type SupervisedConfig } from '../train/trainer.js';

/**
 * The brewing model of Witches' Brew: a model trained from scratch on the
 * attacker's copy of the clean training set, then held fixed while poisons are
 * brewed (ALGORITHMS.md §4; 40 epochs in the reference). Training it is the
 * expensive part, so it is cached on disk under a content hash of everything
 * that determines its weights: the dataset's bytes, the model spec, the
 * training config and the seed.
 */

/** sha256 over a dataset's shape, class names, pixel bytes and label bytes. */
export function datasetHash(ds: ImageDataset): string {
  const h = createHash('sha256');
  h.update(JSON.stringify({ shape: ds.shape, classNames: ds.classNames }));
  h.update(new Uint8Array(ds.images.buffer, ds.images.byteOffset, ds.images.byteLength));
  h.update(new Uint8Array(ds.labels.buffer, ds.labels.byteOffset, ds.labels.byteLength));
  return h.digest('hex');
}

/** Stable JSON with sorted object keys, so equal configs hash equally. */
function stableJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

/** The cache key of a brewing model: hash of dataset content + model spec + training config (which holds the seed). */
export function brewingModelKey(dataHash: string, spec: ModelSpec, train: SupervisedConfig): string {
  return createHash('sha256').update(stableJson({ v: 1, data: dataHash, spec, train })).digest('hex').slice(0, 24);
}

/** Where cached models live: HEMLOCK_CACHE_DIR or `.hemlock/cache` in the working directory. */
export function defaultCacheDir(): string {
  return process.env.HEMLOCK_CACHE_DIR ?? join('.hemlock', 'cache');
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Claims `path` for this process by writing its pid there (exclusive create).
 * False while another live process holds the claim; a claim left by a dead
 * process is taken over. Used so that concurrent workers never train the same
 * brewing model, or run the same setup, twice at once.
 */
export function claimFile(path: string): boolean {
  mkdirSync(dirname(path), { recursive: true });
  try {
    writeFileSync(path, String(process.pid), { flag: 'wx' });
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  const holder = Number(readFileSync(path, 'utf8'));
  if (holder === process.pid) return true;
  if (Number.isInteger(holder) && holder > 0 && processAlive(holder)) return false;
  writeFileSync(path, String(process.pid));
  return true;
}

export interface BrewingModelOptions {
  /** Cache root (default defaultCacheDir()); models go to `<cacheDir>/brew-models/<key>/`. */
  cacheDir?: string;
  /** false: always train, never read or write the cache. */
  useCache?: boolean;
  /** The dataset's hash if the caller already computed it. */
  dataHash?: string;
  onStep?: (p: StepProgress) => void;
  onLog?: (line: string) => void;
}

export interface BrewingModel {
  model: Classifier;
  key: string;
  /** True when the weights came from the cache. */
  cached: boolean;
  /** The cache folder (absent without cache). */
  dir?: string;
  trainSeconds: number;
}

/**
 * Returns the brewing model for (dataset, spec, training config): from the
 * cache when present (sha256-verified by loadModel), else trained from scratch
 * with per-epoch checkpoints (an interrupted training resumes) and saved.
 * The model is initialised with `train.seed`.
 */
export async function getBrewingModel(ds: ImageDataset, spec: ModelSpec, train: SupervisedConfig, opts: BrewingModelOptions = {}): Promise<BrewingModel> {
  const useCache = opts.useCache ?? true;
  const key = brewingModelKey(opts.dataHash ?? datasetHash(ds), spec, train);
  const dir = join(opts.cacheDir ?? defaultCacheDir(), 'brew-models', key);
  const lock = `${dir}.lock`;
  let waited = false;
  for (;;) {
    if (useCache && existsSync(join(dir, 'manifest.json'))) {
      const { model } = await loadModel(dir);
      opts.onLog?.(`brewing model ${key}: loaded from ${dir}`);
      return { model, key, cached: true, dir, trainSeconds: 0 };
    }
    if (!useCache || claimFile(lock)) break;
    // Another live process is training this very model: wait for it.
    if (!waited) opts.onLog?.(`brewing model ${key}: being trained by another process; waiting`);
    waited = true;
    await new Promise((r) => setTimeout(r, 10_000));
  }
  opts.onLog?.(`brewing model ${key}: training ${spec.architecture} for ${train.epochs} epochs on ${ds.name} (${ds.count} images)`);
  const model = buildModel(spec, train.seed);
  const t0 = performance.now();
  const checkpointDir = `${dir}.checkpoint`;
  try {
    await trainSupervised(model, ds, train, {
      ...(opts.onStep ? { onStep: opts.onStep } : {}),
      ...(useCache ? { checkpointDir, onResume: (e: number) => opts.onLog?.(`brewing model ${key}: resumed after epoch ${e}`) } : {}),
    });
  } catch (e) {
    disposeModule(model);
    if (useCache) rmSync(lock, { force: true });
    throw e;
  }
  const trainSeconds = (performance.now() - t0) / 1000;
  if (useCache) {
    await saveModel(model, spec, dir, { kind: 'witches-brew brewing model', key, dataset: ds.name, train, trainSeconds });
    rmSync(checkpointDir, { recursive: true, force: true });
    rmSync(lock, { force: true });
    opts.onLog?.(`brewing model ${key}: trained in ${trainSeconds.toFixed(1)} s, cached in ${dir}`);
  }
  return { model, key, cached: false, ...(useCache ? { dir } : {}), trainSeconds };
}
