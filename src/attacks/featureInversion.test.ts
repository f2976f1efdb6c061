import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../engine/tf.js';
import { initBackend } from '../engine/backend.js';
import { Rng } from '../engine/rng.js';
import { tinyT1, type TinyT1 } from '../testing/t1Fixtures.js';
import { extractFeatures } from './t1/features.js';
import { inversionResidual, matchFeatures, trainDecoder } from './featureInversion.js';

let t: TinyT1;
beforeAll(async () => {
  await initBackend(process.env.HEMLOCK_TEST_BACKEND ?? 'wasm');
  t = await tinyT1({ n: 120, nTest: 40 });
});
afterAll(() => t?.dispose());

const shape = { height: 28, width: 28, channels: 1 };

describe('feature inversion', () => {
  it('feature matching lowers ‖f(x) − ζ‖², stays in [0,1] and in the ℓ∞ ball, and leaks no tensors', () => {
    const enc = t.model.body;
    const dim = enc.featureDim;
    // Targets: the features of 6 other images; start: 6 training images.
    const zeta = extractFeatures(enc, t.train).slice(10 * dim, 16 * dim);
    const start = t.train.images.slice(0, 6 * 784);
    const before = tf.memory().numTensors;
    const free = matchFeatures(enc, zeta, start, shape, { steps: 40, lr: 0.05, batchSize: 4 });
    const ball = matchFeatures(enc, zeta, start, shape, { steps: 40, lr: 0.05, linf: 0.05, batchSize: 4 });
    expect(tf.memory().numTensors).toBe(before);
    expect(free.relativeResidual).toBeLessThan(0.5 * free.initialRelativeResidual);
    expect(free.history.at(-1)!.loss).toBeLessThan(free.history[0]!.loss);
    // The constrained problem cannot do better than the unconstrained one, but still improves.
    expect(ball.relativeResidual).toBeLessThan(ball.initialRelativeResidual);
    for (let i = 0; i < start.length; i++) {
      expect(free.images[i]).toBeGreaterThanOrEqual(0);
      expect(free.images[i]).toBeLessThanOrEqual(1);
      expect(ball.images[i]).toBeGreaterThanOrEqual(0);
      expect(ball.images[i]).toBeLessThanOrEqual(1);
      expect(Math.abs(ball.images[i]! - start[i]!)).toBeLessThanOrEqual(0.05 + 1e-6);
    }
    // The reported residual is the one recomputed from the images.
    expect(inversionResidual(enc, free.images, zeta, shape).meanResidual).toBeCloseTo(free.meanResidual, 4);
  });

  it('decoder: reconstruction error falls over training, outputs are valid images', () => {
    const before = tf.memory().numTensors;
    const { decoder, history } = trainDecoder(t.model.body, t.train, { hidden: 64, epochs: 4, batchSize: 32, lr: 3e-3 }, new Rng(0));
    expect(history.at(-1)!).toBeLessThan(history[0]!);
    const z = extractFeatures(t.model.body, t.test).slice(0, 5 * t.model.body.featureDim);
    const x = decoder.decode(z);
    expect(x.length).toBe(5 * 784);
    expect(Math.min(...x)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...x)).toBeLessThanOrEqual(1);
    decoder.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
