import { beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../engine/backend.js';
import { ImageDataset } from '../data/dataset.js';
import { syntheticShapes } from '../testing/sslFixtures.js';
import { validateExperiment } from './spec.js';
import { modelSpecFor } from './data.js';
import { defaultProbe, encoderCacheKey, pretrainCached, resolveSslConfig, type ExperimentWithPretrain } from './sslRunner.js';
import { encoderHash } from './encoderCache.js';

const BACKEND = process.env.HEMLOCK_TEST_BACKEND ?? 'wasm';

function shapesDataset(n: number, seed: number): ImageDataset {
  const d = syntheticShapes(n, { seed });
  return new ImageDataset({ ...d, classNames: ['square', 'outline', 'plus'], name: `shapes/${seed}` }, { trustedPixels: true });
}

describe('SSL experiment specs', () => {
  it('the pretrain section fills method-specific defaults and stays strict', () => {
    const base = { data: { dataset: 'fashion-mnist-mini' } };
    const moco = validateExperiment({ ...base, pretrain: { method: 'moco' } }, 'spec.yaml').pretrain!;
    expect(moco).toMatchObject({ method: 'moco', temperature: 0.2, queueSize: 4096, momentum: 0.99, momentumEnd: 0.999, batchSize: 256 });
    expect(moco.optimizer).toMatchObject({ kind: 'adam', lr: 0.002 });
    expect(moco.augment).toMatchObject({ cropScale: [0.2, 1], flip: 'auto', jitterProb: 0.8 });
    const byol = validateExperiment({ ...base, pretrain: { method: 'byol', projector: { out: 64 } } }, 'spec.yaml').pretrain!;
    expect(byol).toMatchObject({ method: 'byol', momentumEnd: 1, projector: { hidden: 256, out: 64, layers: 2, batchNorm: true } });
    expect(() => validateExperiment({ ...base, pretrain: { method: 'byol', temperature: 0.5 } }, 'spec.yaml')).toThrow(/spec\.yaml: pretrain: unknown key 'temperature'/);
    expect(() => validateExperiment({ ...base, pretrain: { method: 'swav' } }, 'spec.yaml')).toThrow(/pretrain\.method: expected method simclr, moco, byol or barlow/);
    expect(() => validateExperiment({ ...base, pretrain: { method: 'simclr', augment: { cropScale: [0.9, 0.2] } } }, 'spec.yaml')).toThrow(/pretrain\.augment\.cropScale/);
    expect(() => validateExperiment({ ...base, probe: { mode: 'linear', lr: 1 } }, 'spec.yaml')).toThrow(/probe: unknown key 'lr'/);
    expect(defaultProbe()).toMatchObject({ mode: 'linear', epochs: 300, standardize: true, baseline: true });
  });

  it("'auto' flip follows the dataset", () => {
    const p = validateExperiment({ data: { dataset: 'x' }, pretrain: { method: 'simclr' } }, 's').pretrain!;
    expect(resolveSslConfig(p, 'fashion-mnist').augment.flip).toBe(true);
    expect(resolveSslConfig(p, 'mnist-digits').augment.flip).toBe(false);
  });
});

describe(`pretrainCached (${BACKEND})`, () => {
  beforeAll(async () => {
    await initBackend(BACKEND);
  });

  it('trains once, then returns the cached encoder without training; a poisoned set is another key', async () => {
    const exp = validateExperiment(
      {
        seed: 2,
        data: { dataset: 'shapes-in-memory' },
        model: { architecture: 'convnet-s', options: { widths: [4, 8, 8] } },
        pretrain: { method: 'simclr', epochs: 1, batchSize: 16, projector: { hidden: 16, out: 8 }, knn: { k: 3 } },
      },
      'test',
    ) as ExperimentWithPretrain;
    const data = { train: shapesDataset(32, 1), test: shapesDataset(12, 2) };
    const cacheDir = mkdtempSync(join(tmpdir(), 'hemlock-ssl-cache-'));
    let steps = 0;
    const first = await pretrainCached(exp, { data, cacheDir, onStep: () => steps++ });
    expect(first.cacheHit).toBe(false);
    expect(steps).toBe(2);
    expect(first.knnAccuracy).not.toBeNull();
    const second = await pretrainCached(exp, { data, cacheDir, onStep: () => steps++ });
    expect(second).toMatchObject({ cacheHit: true, encoderHash: first.encoderHash, encoderDir: first.encoderDir, knnAccuracy: first.knnAccuracy });
    expect(steps).toBe(2);
    // Later attacks pre-train on a poisoned set: its manifest enters the key.
    const poisoned = await pretrainCached(exp, { data, cacheDir, poisoned: { train: shapesDataset(32, 9), manifestSha256: 'f'.repeat(64) } });
    expect(poisoned.cacheHit).toBe(false);
    expect(poisoned.encoderHash).not.toBe(first.encoderHash);
    expect(poisoned.key.poisonManifestSha256).toBe('f'.repeat(64));
    // Same images, other classes recorded → other key.
    const other = { ...exp, data: { ...exp.data, classes: [0, 1, 2] } };
    expect(encoderHash(encoderCacheKey(other, data.train, modelSpecFor(other, data), null))).not.toBe(first.encoderHash);
  });
});
