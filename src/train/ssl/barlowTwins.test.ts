import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../engine/tf.js';
import { initBackend } from '../../engine/backend.js';
import { Rng } from '../../engine/rng.js';
import { buildModel } from '../../models/registry.js';
import { disposeModule } from '../../models/module.js';
import { randomMatrix, syntheticShapes } from '../../testing/sslFixtures.js';
import { Optimizer } from '../optimizers.js';
import { barlowLoss } from './barlowTwins.js';
import { createSslMethod, gatherImages, sslStep } from './pretrain.js';
import { TINY_SPEC, tinyConfig, tinyPretrainOutcome } from './testing.js';

const BACKEND = process.env.HEMLOCK_TEST_BACKEND ?? 'wasm';

/** Barlow Twins by its definition: per-dimension batch standardisation, C_ij = Σ_b z1_bi z2_bj / N. */
function barlowLoop(z1: number[][], z2: number[][], lambda: number): number {
  const n = z1.length;
  const d = z1[0]!.length;
  const std = (z: number[][]) => {
    const out = z.map((r) => r.slice());
    for (let j = 0; j < d; j++) {
      const mean = z.reduce((a, r) => a + r[j]!, 0) / n;
      const v = z.reduce((a, r) => a + (r[j]! - mean) ** 2, 0) / n;
      for (let b = 0; b < n; b++) out[b]![j] = (z[b]![j]! - mean) / Math.sqrt(v + 1e-5);
    }
    return out;
  };
  const a = std(z1);
  const b = std(z2);
  let loss = 0;
  for (let i = 0; i < d; i++)
    for (let j = 0; j < d; j++) {
      let c = 0;
      for (let k = 0; k < n; k++) c += a[k]![i]! * b[k]![j]!;
      c /= n;
      loss += i === j ? (1 - c) ** 2 : lambda * c * c;
    }
  return loss;
}

const barlowOptions = { method: 'barlow' as const, lambda: 0.02, scale: 0.1 };

describe(`Barlow Twins (${BACKEND})`, () => {
  beforeAll(async () => {
    await initBackend(BACKEND);
  });

  for (const lambda of [0.005, 0.5]) {
    it(`the cross-correlation loss equals the per-entry formula (λ=${lambda})`, () => {
      const z1 = randomMatrix(8, 5, 1);
      const z2 = randomMatrix(8, 5, 2);
      const got = barlowLoss(tf.tensor2d(z1), tf.tensor2d(z2), lambda).dataSync()[0]!;
      expect(got).toBeCloseTo(barlowLoop(z1, z2, lambda), 3);
    });
  }

  it('is ≈ 0 for identical, decorrelated embeddings', () => {
    // Columns ±1 patterns that are orthogonal over the batch: C = I.
    const z = [[1, 1], [1, -1], [-1, 1], [-1, -1]];
    expect(barlowLoss(tf.tensor2d(z), tf.tensor2d(z), 1).dataSync()[0]).toBeLessThan(1e-4);
  });

  it('steps do not grow tf.memory().numTensors', () => {
    const model = buildModel(TINY_SPEC, 1);
    const cfg = tinyConfig(barlowOptions);
    const method = createSslMethod(model.body, cfg, new Rng(1));
    const opt = new Optimizer(cfg.optimizer);
    const x = gatherImages(syntheticShapes(16), Array.from({ length: 16 }, (_, i) => i));
    const rng = new Rng(2);
    sslStep(method, opt, x, cfg.augment, rng, 0).dispose();
    const after1 = tf.memory().numTensors;
    for (let i = 0; i < 10; i++) sslStep(method, opt, x, cfg.augment, rng, i / 10).dispose();
    expect(tf.memory().numTensors).toBe(after1);
    x.dispose();
    opt.dispose();
    method.dispose();
    disposeModule(model);
  });

  it('pre-training lowers the loss and beats the random-init encoder on a tiny task', async () => {
    const o = await tinyPretrainOutcome(tinyConfig(barlowOptions));
    const h = o.result.history;
    expect(h.at(-1)!.loss).toBeLessThan(h[0]!.loss * 0.7);
    expect(o.probe).toBeGreaterThan(o.randomProbe + 0.05);
    expect(o.tensorsAfter).toBe(o.tensorsBefore);
  });
});
