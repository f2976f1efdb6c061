import { beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tf } from '../engine/tf.js';
import { initBackend } from '../engine/backend.js';
import { Rng } from '../engine/rng.js';
import { buildModel } from '../models/registry.js';
import { disposeModule } from '../models/module.js';
import { syntheticBars } from '../testing/fixtures.js';
import { cachedFeatures, extractFeatures, fineTune, imagesSha256, linearProbe, predictLinearProbe, trainLinearProbe, type Features } from './probe.js';

const BACKEND = process.env.HEMLOCK_TEST_BACKEND ?? 'wasm';
const adam = (lr: number) => ({ kind: 'adam' as const, lr, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 });
const spec = { architecture: 'convnet-s' as const, inputShape: [12, 12, 1] as [number, number, number], numClasses: 3, head: 'linear' as const, options: { widths: [4, 8, 8] } };

/** Gaussian blobs in 5-d, one per class, with a large constant offset and scale (which standardisation removes). */
function blobs(n: number, seed: number): { f: Features; y: Int32Array } {
  const rng = new Rng(seed);
  const d = 5;
  const features = new Float32Array(n * d);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = i % 3;
    for (let j = 0; j < d; j++) features[i * d + j] = 100 + 50 * ((j === y[i] ? 2 : 0) + 0.3 * rng.normal());
  }
  return { f: { features, count: n, dim: d }, y };
}

describe(`linear probe and fine-tuning (${BACKEND})`, () => {
  beforeAll(async () => {
    await initBackend(BACKEND);
  });

  it('logistic regression on standardised features separates blobs (full batch and minibatch)', () => {
    const tr = blobs(150, 1);
    const te = blobs(60, 2);
    for (const batchSize of [undefined, 32]) {
      const before = tf.memory().numTensors;
      const m = trainLinearProbe(tr.f, tr.y, 3, { epochs: batchSize ? 20 : 100, ...(batchSize ? { batchSize } : {}), optimizer: adam(0.05), schedule: { kind: 'constant' }, standardize: true, seed: 0 });
      expect(tf.memory().numTensors).toBe(before);
      const pred = predictLinearProbe(m, te.f);
      const acc = pred.reduce((a, p, i) => a + (p === te.y[i] ? 1 : 0), 0) / te.y.length;
      expect(acc).toBeGreaterThan(0.95);
      // Standardisation uses the training statistics.
      expect(m.mean[0]).toBeGreaterThan(100);
      expect(m.std[0]).toBeGreaterThan(10);
    }
  });

  it('the probe matches plain gradient descent on softmax cross-entropy (SGD, 3 steps, by hand)', () => {
    const f: Features = { features: new Float32Array([1, 0, 0, 1, 1, 1]), count: 3, dim: 2 };
    const y = new Int32Array([0, 1, 1]);
    const lr = 0.5;
    const m = trainLinearProbe(f, y, 2, { epochs: 3, optimizer: { kind: 'sgd', lr, momentum: 0, nesterov: false, weightDecay: 0 }, schedule: { kind: 'constant' }, standardize: false, seed: 0 });
    // Reference: W (2×2), b (2) from zero, full-batch gradient of mean CE.
    const W = [[0, 0], [0, 0]];
    const b = [0, 0];
    const X = [[1, 0], [0, 1], [1, 1]];
    for (let s = 0; s < 3; s++) {
      const gW = [[0, 0], [0, 0]];
      const gb = [0, 0];
      X.forEach((x, i) => {
        const z = [0, 1].map((c) => x[0]! * W[0]![c]! + x[1]! * W[1]![c]! + b[c]!);
        const e = z.map(Math.exp);
        const p = e.map((v) => v / (e[0]! + e[1]!));
        for (let c = 0; c < 2; c++) {
          const g = (p[c]! - (y[i] === c ? 1 : 0)) / 3;
          gb[c] += g;
          for (let j = 0; j < 2; j++) gW[j]![c] += g * x[j]!;
        }
      });
      for (let c = 0; c < 2; c++) {
        b[c] -= lr * gb[c]!;
        for (let j = 0; j < 2; j++) W[j]![c] -= lr * gW[j]![c]!;
      }
    }
    expect(Array.from(m.weights)).toEqual(W.flat().map((v) => expect.closeTo(v, 5)));
    expect(Array.from(m.bias)).toEqual(b.map((v) => expect.closeTo(v, 5)));
  });

  it('features are computed once: the second probe reads them from the cache', async () => {
    const train = syntheticBars(60, { seed: 1 });
    const test = syntheticBars(30, { seed: 2 });
    const model = buildModel(spec, 1);
    const dir = mkdtempSync(join(tmpdir(), 'hemlock-features-'));
    const cfg = { epochs: 50, optimizer: adam(0.05), schedule: { kind: 'constant' as const }, standardize: true, seed: 0 };
    const a = await linearProbe(model.body, train, test, 3, cfg, { featureCache: { dir, encoderId: 'enc-1' } });
    expect(a.featureCacheHit).toBe(false);
    expect(readdirSync(dir).filter((f) => f.endsWith('.f32'))).toHaveLength(2);
    const b = await linearProbe(model.body, train, test, 3, cfg, { featureCache: { dir, encoderId: 'enc-1' } });
    expect(b.featureCacheHit).toBe(true);
    expect(b.testAccuracy).toBe(a.testAccuracy);
    // Cached features are bit-identical to fresh ones.
    const fresh = extractFeatures(model.body, train);
    const cached = await cachedFeatures(dir, `enc-1|${imagesSha256(train)}`, () => { throw new Error('should be cached'); });
    expect(Array.from(cached.features)).toEqual(Array.from(fresh.features));
    // Another encoder id is another entry.
    const c = await linearProbe(model.body, train, test, 3, cfg, { featureCache: { dir, encoderId: 'enc-2' } });
    expect(c.featureCacheHit).toBe(false);
    disposeModule(model);
  });

  it('fine-tuning trains encoder and head to high accuracy on a learnable task', async () => {
    const train = syntheticBars(120, { seed: 1 });
    const test = syntheticBars(60, { seed: 2 });
    const model = buildModel(spec, 1);
    const before = Array.from(Object.values(model.body.params)[0]!.dataSync());
    const r = await fineTune(model.body, train, test, 3, {
      epochs: 4, batchSize: 16, optimizer: { kind: 'sgd', lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 0 }, schedule: { kind: 'cosine' },
      augment: { shift: 0, shiftPadding: 'zero', flip: false, brightness: 0, contrast: 0, noise: 0 }, seed: 0,
    });
    expect(r.testAccuracy).toBeGreaterThan(0.9);
    expect(Array.from(Object.values(model.body.params)[0]!.dataSync())).not.toEqual(before);
    disposeModule(model);
  });
});
