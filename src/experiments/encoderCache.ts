import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { sha256, sha256File, writeJsonAtomic } from '../engine/files.js';
import { HemlockInputError } from '../engine/errors.js';
import { canonicalJson } from './records.js';

/**
 * A content-addressed cache of pre-trained encoders, so a sweep never
 * pre-trains the same encoder twice. The key names everything that decides
 * the weights: the pre-training data (name, classes/limits and the sha256 of
 * the very pixels used), the poison manifest (for poisoned pre-training sets),
 * the method and its resolved config, the model, the seed and the version of
 * the trainer code. Its sha256 is the entry's folder name:
 *
 *   <root>/<hash>/entry.json           key, results, sha256 of the encoder files
 *   <root>/<hash>/encoder/             the encoder (hemlock model format)
 *   <root>/<hash>.work/checkpoint/     per-epoch checkpoints while pre-training
 *   <root>/<hash>.work/lock            pid of the process pre-training it
 *
 * An entry is built in a temporary folder and renamed into place in one step,
 * with entry.json written last; a killed run leaves only .work/ (its
 * checkpoints, used to resume) and never a folder that lookup() accepts.
 */

export const ENCODER_CACHE_FORMAT = 'hemlock-encoder-cache/1';

export interface EncoderCacheKey {
  format: typeof ENCODER_CACHE_FORMAT;
  data: {
    /** Built-in dataset name or the dataset directory. */
    dataset: string;
    split: 'train';
    classes: number[] | null;
    trainLimit: number | null;
    count: number;
    shape: [number, number, number];
    /** sha256 of the pre-training images (shape + pixels). */
    imagesSha256: string;
  };
  /** sha256 of the poison manifest when the pre-training set was poisoned (later attacks); null when clean. */
  poisonManifestSha256: string | null;
  method: string;
  /** The resolved pre-training config (method options, projector, optimizer, schedule, augmentation; not the k-NN monitor). */
  config: unknown;
  model: { architecture: string; options: Record<string, unknown>; inputShape: [number, number, number] };
  seed: number;
  trainerVersion: string;
}

export interface EncoderCacheEntry {
  format: typeof ENCODER_CACHE_FORMAT;
  hash: string;
  key: EncoderCacheKey;
  createdAt: string;
  /** sha256 of the encoder's files (its manifest.json lists the rest). */
  encoderManifestSha256: string;
  /** Results of the pre-training run that made the entry. */
  result: Record<string, unknown>;
}

export function encoderHash(key: EncoderCacheKey): string {
  return sha256(canonicalJson(key));
}

/** The cache root: --cache-dir, else $HEMLOCK_CACHE_DIR, else .hemlock/cache (relative to the working directory). */
export function defaultCacheDir(): string {
  return process.env.HEMLOCK_CACHE_DIR || join('.hemlock', 'cache');
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class EncoderCache {
  readonly root: string;

  /** `cacheDir` is the cache root (its `encoders/` folder holds the entries). */
  constructor(cacheDir: string = defaultCacheDir()) {
    this.root = resolve(cacheDir, 'encoders');
  }

  entryDir(hash: string): string {
    return join(this.root, hash);
  }

  encoderDir(hash: string): string {
    return join(this.entryDir(hash), 'encoder');
  }

  /** Where an unfinished pre-training run keeps its checkpoints (same key → same folder → resume). */
  checkpointDir(hash: string): string {
    return join(this.root, `${hash}.work`, 'checkpoint');
  }

  /** The complete entry for `hash`, or null. Entries whose files do not match their recorded sha256 are rejected. */
  lookup(hash: string): EncoderCacheEntry | null {
    const path = join(this.entryDir(hash), 'entry.json');
    if (!existsSync(path)) return null;
    let entry: EncoderCacheEntry;
    try {
      entry = JSON.parse(readFileSync(path, 'utf8')) as EncoderCacheEntry;
    } catch {
      return null;
    }
    if (entry.format !== ENCODER_CACHE_FORMAT || entry.hash !== hash) return null;
    const manifest = join(this.encoderDir(hash), 'manifest.json');
    if (!existsSync(manifest) || sha256File(manifest) !== entry.encoderManifestSha256) return null;
    return entry;
  }

  /**
   * Takes the per-key lock (a file holding our pid) for the duration of a
   * pre-training run; a lock left by a dead process is taken over. Returns
   * the release function.
   */
  lock(hash: string): () => void {
    const dir = join(this.root, `${hash}.work`);
    mkdirSync(dir, { recursive: true });
    const path = join(dir, 'lock');
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = openSync(path, 'wx');
        writeSync(fd, String(process.pid));
        closeSync(fd);
        return () => {
          rmSync(path, { force: true });
          // Nothing left to resume from once the entry is published.
          if (!existsSync(join(dir, 'checkpoint'))) rmSync(dir, { recursive: true, force: true });
        };
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        const pid = Number(readFileSync(path, 'utf8').trim());
        if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && pidAlive(pid)) {
          throw new HemlockInputError(`${path}: encoder ${hash.slice(0, 12)} is being pre-trained by process ${pid}; wait for it or stop it`);
        }
        rmSync(path, { force: true }); // stale
      }
    }
    throw new Error(`${path}: could not take the lock`);
  }

  /**
   * Publishes an entry: `write(tmpEncoderDir)` saves the encoder into a
   * temporary folder, entry.json is written last, and the folder is renamed
   * to <root>/<hash> in one step. The .work folder (checkpoints) is removed
   * afterwards. If another process published the same key first, its entry wins.
   */
  async commit(key: EncoderCacheKey, result: Record<string, unknown>, write: (encoderDir: string) => Promise<void>): Promise<EncoderCacheEntry> {
    const hash = encoderHash(key);
    mkdirSync(this.root, { recursive: true });
    const tmp = join(this.root, `.tmp-${hash.slice(0, 16)}-${process.pid}-${randomBytes(4).toString('hex')}`);
    try {
      await write(join(tmp, 'encoder'));
      const entry: EncoderCacheEntry = {
        format: ENCODER_CACHE_FORMAT,
        hash,
        key,
        createdAt: new Date().toISOString(),
        encoderManifestSha256: sha256File(join(tmp, 'encoder', 'manifest.json')),
        result,
      };
      await writeJsonAtomic(join(tmp, 'entry.json'), entry);
      const final = this.entryDir(hash);
      if (existsSync(final)) {
        const existing = this.lookup(hash);
        if (existing) return existing;
        rmSync(final, { recursive: true, force: true }); // an invalid leftover
      }
      renameSync(tmp, final);
      rmSync(join(this.root, `${hash}.work`, 'checkpoint'), { recursive: true, force: true });
      return entry;
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }
}
