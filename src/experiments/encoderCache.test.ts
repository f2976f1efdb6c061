import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeJsonAtomic } from '../engine/files.js';
import { EncoderCache, encoderHash, ENCODER_CACHE_FORMAT, type EncoderCacheKey } from './encoderCache.js';

const KEY: EncoderCacheKey = {
  format: ENCODER_CACHE_FORMAT,
  data: { dataset: 'fashion-mnist', split: 'train', classes: [0, 1, 2, 3, 4], trainLimit: null, count: 30000, shape: [28, 28, 1], imagesSha256: 'a'.repeat(64) },
  poisonManifestSha256: null,
  method: 'simclr',
  config: { method: 'simclr', temperature: 0.2, epochs: 10 },
  model: { architecture: 'convnet-s', options: {}, inputShape: [28, 28, 1] },
  seed: 0,
  trainerVersion: 'hemlock-ssl/1',
};

/** Stands in for saveModel: a manifest and a weights file. */
async function fakeEncoder(dir: string, content = 'w'): Promise<void> {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'weights.bin'), content);
  await writeJsonAtomic(join(dir, 'manifest.json'), { format: 'hemlock-model/1', files: { 'weights.bin': content } });
}

describe('encoder cache', () => {
  it('the hash depends on every part of the key and not on key order', () => {
    const h = encoderHash(KEY);
    expect(h).toMatch(/^[0-9a-f]{64}$/);
    const reordered = Object.fromEntries(Object.entries(KEY).reverse()) as unknown as EncoderCacheKey;
    expect(Object.keys(reordered)[0]).toBe('trainerVersion');
    expect(encoderHash(reordered)).toBe(h);
    const variants: EncoderCacheKey[] = [
      { ...KEY, data: { ...KEY.data, imagesSha256: 'b'.repeat(64) } },
      { ...KEY, data: { ...KEY.data, classes: [5, 6, 7, 8, 9] } },
      { ...KEY, data: { ...KEY.data, dataset: 'fashion-mnist-mini' } },
      { ...KEY, poisonManifestSha256: 'c'.repeat(64) },
      { ...KEY, method: 'moco' },
      { ...KEY, config: { method: 'simclr', temperature: 0.5, epochs: 10 } },
      { ...KEY, seed: 1 },
      { ...KEY, trainerVersion: 'hemlock-ssl/2' },
      { ...KEY, model: { ...KEY.model, options: { widths: [8, 16, 32] } } },
    ];
    const hashes = new Set([h, ...variants.map(encoderHash)]);
    expect(hashes.size).toBe(variants.length + 1);
  });

  it('commit publishes a complete entry in one rename; lookup finds it', async () => {
    const cache = new EncoderCache(mkdtempSync(join(tmpdir(), 'hemlock-cache-')));
    const h = encoderHash(KEY);
    expect(cache.lookup(h)).toBeNull();
    const release = cache.lock(h);
    mkdirSync(cache.checkpointDir(h), { recursive: true });
    const entry = await cache.commit(KEY, { knnAccuracy: 0.5 }, (dir) => fakeEncoder(dir));
    release();
    expect(entry.hash).toBe(h);
    expect(cache.lookup(h)?.result).toEqual({ knnAccuracy: 0.5 });
    expect(existsSync(join(cache.encoderDir(h), 'weights.bin'))).toBe(true);
    // No temporary folders, no work folder (checkpoints) left behind.
    expect(readdirSync(cache.root)).toEqual([h]);
    // A second commit of the same key keeps the first entry.
    const again = await cache.commit(KEY, { knnAccuracy: 0.9 }, (dir) => fakeEncoder(dir, 'other'));
    expect(again.result).toEqual({ knnAccuracy: 0.5 });
  });

  it('a run killed while writing leaves nothing lookup accepts', async () => {
    const cache = new EncoderCache(mkdtempSync(join(tmpdir(), 'hemlock-cache-')));
    const h = encoderHash(KEY);
    // Killed inside write(): the temporary folder is not the entry.
    mkdirSync(join(cache.root, `.tmp-${h.slice(0, 16)}-999-dead`, 'encoder'), { recursive: true });
    expect(cache.lookup(h)).toBeNull();
    // An entry folder without entry.json (or with a different hash, or a changed encoder) is invalid.
    await fakeEncoder(cache.encoderDir(h));
    expect(cache.lookup(h)).toBeNull();
    await writeJsonAtomic(join(cache.entryDir(h), 'entry.json'), { format: ENCODER_CACHE_FORMAT, hash: 'x', key: KEY, encoderManifestSha256: 'y', result: {} });
    expect(cache.lookup(h)).toBeNull();
    // commit() replaces such an invalid leftover.
    const entry = await cache.commit(KEY, {}, (dir) => fakeEncoder(dir));
    expect(cache.lookup(h)?.encoderManifestSha256).toBe(entry.encoderManifestSha256);
    writeFileSync(join(cache.encoderDir(h), 'manifest.json'), '{"tampered":true}');
    expect(cache.lookup(h)).toBeNull();
  });

  it('the per-key lock refuses a second live process and takes over a dead one', async () => {
    const cache = new EncoderCache(mkdtempSync(join(tmpdir(), 'hemlock-cache-')));
    const h = encoderHash(KEY);
    const lockPath = join(cache.root, `${h}.work`, 'lock');
    mkdirSync(join(cache.root, `${h}.work`), { recursive: true });
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 20000)']);
    try {
      writeFileSync(lockPath, String(child.pid));
      expect(() => cache.lock(h)).toThrow(new RegExp(`process ${child.pid}`));
    } finally {
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
    }
    // Its owner is gone now: the lock is stale and taken over.
    const release = cache.lock(h);
    release();
    expect(existsSync(lockPath)).toBe(false);
  });
});
