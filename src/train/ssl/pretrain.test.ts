import { beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tf } from '../../engine/tf.js';
import { initBackend } from '../../engine/backend.js';
import { buildModel } from '../../models/registry.js';
import { disposeModule } from '../../models/module.js';
import { syntheticShapes } from '../../testing/sslFixtures.js';
import { pretrainSsl } from './pretrain.js';
import { TINY_SPEC, tinyConfig } from './testing.js';
import type { SslMethodOptions } from './types.js';

const BACKEND = process.env.HEMLOCK_TEST_BACKEND ?? 'wasm';

const METHODS: SslMethodOptions[] = [
  { method: 'simclr', temperature: 0.2 },
  { method: 'moco', temperature: 0.2, queueSize: 40, momentum: 0.9, momentumEnd: 0.99 },
  { method: 'byol', momentum: 0.9, momentumEnd: 1, predictorHidden: 16 },
  { method: 'barlow', lambda: 0.02, scale: 0.1 },
];

const weightsOf = (m: { params: Record<string, tf.Variable> }) => Object.values(m.params).map((v) => Array.from(v.dataSync()));

describe(`SSL pre-training loop (${BACKEND})`, () => {
  beforeAll(async () => {
    await initBackend(BACKEND);
  });

  for (const options of METHODS) {
    it(`${options.method}: resuming from a checkpoint after any epoch ends with the same weights as an uninterrupted run`, async () => {
      const data = syntheticShapes(60, { seed: 4 });
      // 5 steps per epoch: resuming after epoch 1 restores Adam at step 5, where
      // tfjs's own pow(β₂, t+1) differs from the running product β₂·β₂·…·β₂
      // (on wasm: β₂ at t = 2, 5; β₁ at t = 8, 11; src/train/optimizers.test.ts checks every t).
      const EPOCHS = 4;
      const cfg = tinyConfig(options, { epochs: EPOCHS, batchSize: 12, schedule: { kind: 'cosine' } });
      const full = buildModel(TINY_SPEC, 2);
      const before = tf.memory().numTensors;
      const ref = await pretrainSsl(full.body, data, cfg, 5);
      expect(tf.memory().numTensors).toBe(before);
      expect(ref.history).toHaveLength(EPOCHS);
      for (const killAfter of [1, 2]) {
        const dir = mkdtempSync(join(tmpdir(), `hemlock-ssl-ckpt-${options.method}-`));
        const first = buildModel(TINY_SPEC, 2);
        await expect(
          pretrainSsl(first.body, data, cfg, 5, {
            checkpointDir: dir,
            onEpochEnd: (r) => {
              if (r.epoch === killAfter + 1) throw new Error('simulated kill');
            },
          }),
        ).rejects.toThrow('simulated kill');
        disposeModule(first);
        expect(readdirSync(dir).sort()).toEqual([`checkpoint-${killAfter}.bin`, 'checkpoint.json']);
        // A different initialisation: everything must come from the checkpoint.
        const resumed = buildModel(TINY_SPEC, 99);
        let resumedAt = -1;
        const r = await pretrainSsl(resumed.body, data, cfg, 5, { checkpointDir: dir, onResume: (e) => (resumedAt = e) });
        expect(resumedAt).toBe(killAfter);
        expect(r.resumedFromEpoch).toBe(killAfter);
        expect(r.history.map((h) => h.loss)).toEqual(ref.history.map((h) => h.loss));
        expect(weightsOf(resumed.body), `resumed after epoch ${killAfter}`).toEqual(weightsOf(full.body));
        disposeModule(resumed);
      }
      disposeModule(full);
    });
  }

  it('the k-NN monitor is recorded every `every` epochs and at the end', async () => {
    const data = syntheticShapes(48, { seed: 4 });
    const test = syntheticShapes(30, { seed: 5 });
    const cfg = tinyConfig(METHODS[0]!, { epochs: 3, batchSize: 16, knn: { k: 3, temperature: 0.1, every: 2, bankLimit: 100, queryLimit: 100 } });
    const model = buildModel(TINY_SPEC, 2);
    const r = await pretrainSsl(model.body, data, cfg, 1, { monitor: { bank: data, query: test, numClasses: 3 } });
    expect(r.history.map((h) => h.knnAccuracy !== undefined)).toEqual([false, true, true]);
    expect(r.knnAccuracy).toBe(r.history[2]!.knnAccuracy);
    expect(r.knnAccuracy).toBeGreaterThanOrEqual(0);
    expect(r.knnAccuracy).toBeLessThanOrEqual(1);
    disposeModule(model);
  });

  it('drops the last incomplete batch and refuses batches of one image', async () => {
    const model = buildModel(TINY_SPEC, 2);
    const steps: number[] = [];
    const r = await pretrainSsl(model.body, syntheticShapes(20), tinyConfig(METHODS[3]!, { epochs: 1, batchSize: 8 }), 1, { onStep: (p) => steps.push(p.step) });
    expect(r.steps).toBe(2);
    expect(steps).toEqual([1, 2]);
    await expect(pretrainSsl(model.body, syntheticShapes(1), tinyConfig(METHODS[0]!, { epochs: 1 }), 1)).rejects.toThrow(/at least 2 images/);
    disposeModule(model);
  });
});
