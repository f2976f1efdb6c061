import { beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../engine/backend.js';
import { ImageDataset } from '../data/dataset.js';
import { disposeModule } from '../models/module.js';
import type { ModelSpec } from '../models/registry.js';
import type { SupervisedConfig } from '../train/trainer.js';
import { syntheticBars } from '../testing/fixtures.js';
import { brewingModelKey, claimFile, datasetHash, getBrewingModel } from './brewingModel.js';

const BACKEND = process.env.HEMLOCK_TEST_BACKEND ?? 'wasm';
const SPEC: ModelSpec = { architecture: 'convnet-s', inputShape: [8, 8, 1], numClasses: 3, head: 'linear', options: { widths: [4, 4, 8] } };
const TRAIN: SupervisedConfig = {
  epochs: 1,
  batchSize: 16,
  optimizer: { kind: 'sgd', lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 5e-4 },
  schedule: { kind: 'cosine' },
  augment: { shift: 1, shiftPadding: 'reflect', flip: false, brightness: 0, contrast: 0, noise: 0 },
  seed: 3,
};

function bars(seed: number): ImageDataset {
  const d = syntheticBars(48, { size: 8, classes: 3, seed });
  return new ImageDataset({ ...d, classNames: ['a', 'b', 'c'], name: 'bars' });
}

beforeAll(async () => {
  await initBackend(BACKEND);
});

describe('brewing model cache', () => {
  it('the key depends on data content, model spec, training config and seed — nothing else', () => {
    const a = bars(1);
    const h = datasetHash(a);
    expect(datasetHash(bars(1))).toBe(h);
    expect(datasetHash(bars(2))).not.toBe(h);
    const k = brewingModelKey(h, SPEC, TRAIN);
    expect(brewingModelKey(h, { ...SPEC, options: { widths: [4, 4, 8] } }, { ...TRAIN })).toBe(k);
    expect(brewingModelKey(h, { ...SPEC, options: { widths: [4, 8, 8] } }, TRAIN)).not.toBe(k);
    expect(brewingModelKey(h, SPEC, { ...TRAIN, seed: 4 })).not.toBe(k);
    expect(brewingModelKey(h, SPEC, { ...TRAIN, epochs: 2 })).not.toBe(k);
  });

  it('trains once, then loads the same weights from the cache', async () => {
    const cacheDir = mkdtempSync(join(tmpdir(), 'hemlock-brew-cache-'));
    const ds = bars(1);
    const first = await getBrewingModel(ds, SPEC, TRAIN, { cacheDir });
    expect(first.cached).toBe(false);
    expect(existsSync(join(first.dir!, 'manifest.json'))).toBe(true);
    expect(existsSync(`${first.dir}.lock`)).toBe(false);
    const second = await getBrewingModel(ds, SPEC, TRAIN, { cacheDir });
    expect(second.cached).toBe(true);
    expect(second.key).toBe(first.key);
    for (const [k, v] of Object.entries(first.model.params)) expect(Array.from(second.model.params[k]!.dataSync())).toEqual(Array.from(v.dataSync()));
    disposeModule(first.model);
    disposeModule(second.model);
  });

  it('claimFile: exclusive per live process, taken over from a dead one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hemlock-claim-'));
    const mine = join(dir, 'a', 'claim.pid');
    expect(claimFile(mine)).toBe(true);
    expect(claimFile(mine)).toBe(true); // idempotent for the holder
    const other = join(dir, 'b.pid');
    writeFileSync(other, '1'); // pid 1 is always alive
    expect(claimFile(other)).toBe(false);
    const stale = join(dir, 'c.pid');
    writeFileSync(stale, '4194303'); // above the default pid_max: no such process
    expect(claimFile(stale)).toBe(true);
  });
});
