import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../engine/tf.js';
import { initBackend } from '../../engine/backend.js';
import { Rng } from '../../engine/rng.js';
import { buildModel } from '../../models/registry.js';
import { disposeModule } from '../../models/module.js';
import { randomMatrix, syntheticShapes } from '../../testing/sslFixtures.js';
import { Optimizer } from '../optimizers.js';
import { byolLoss } from './byol.js';
import { momentumAt } from './heads.js';
import { createSslMethod, gatherImages, sslStep } from './pretrain.js';
import { TINY_SPEC, tinyConfig, tinyPretrainOutcome } from './testing.js';

const BACKEND = process.env.HEMLOCK_TEST_BACKEND ?? 'wasm';

/** ‖p/‖p‖ − z/‖z‖‖², averaged over rows. */
function byolLoop(p: number[][], z: number[][]): number {
  let total = 0;
  for (let i = 0; i < p.length; i++) {
    const np = Math.hypot(...p[i]!);
    const nz = Math.hypot(...z[i]!);
    total += p[i]!.reduce((a, v, k) => a + (v / np - z[i]![k]! / nz) ** 2, 0);
  }
  return total / p.length;
}

// τ starts at 0.8 here: an EMA with τ = 0.99 averages over ~100 steps, the whole of this tiny run.
const byolOptions = { method: 'byol' as const, momentum: 0.8, momentumEnd: 1, predictorHidden: 32 };

describe(`BYOL (${BACKEND})`, () => {
  beforeAll(async () => {
    await initBackend(BACKEND);
  });

  it('the loss equals the mean squared distance of the normalised vectors', () => {
    const p = randomMatrix(6, 5, 1);
    const z = randomMatrix(6, 5, 2);
    expect(byolLoss(tf.tensor2d(p), tf.tensor2d(z)).dataSync()[0]).toBeCloseTo(byolLoop(p, z), 5);
  });

  it('the EMA coefficient rises from momentum to momentumEnd along a cosine', () => {
    expect(momentumAt(0.99, 1, 0)).toBeCloseTo(0.99, 10);
    expect(momentumAt(0.99, 1, 0.5)).toBeCloseTo(0.995, 10);
    expect(momentumAt(0.99, 1, 1)).toBeCloseTo(1, 10);
  });

  it('the target network is the EMA of the online network and gets no gradient', () => {
    const model = buildModel(TINY_SPEC, 1);
    const cfg = tinyConfig(byolOptions);
    const method = createSslMethod(model.body, cfg, new Rng(1));
    expect(method.trainable.some((v) => v.name.startsWith('targetEncoder'))).toBe(false);
    const opt = new Optimizer(cfg.optimizer);
    const x = gatherImages(syntheticShapes(16), Array.from({ length: 16 }, (_, i) => i));
    const name = Object.keys(model.body.params)[2]!;
    const target = method.state[`targetEncoder/${name}`]!;
    const before = Array.from(target.dataSync());
    sslStep(method, opt, x, cfg.augment, new Rng(2), 0.5).dispose();
    const tau = momentumAt(0.8, 1, 0.5);
    const online = Array.from(model.body.params[name]!.dataSync());
    const after = Array.from(target.dataSync());
    for (let i = 0; i < after.length; i += 5) expect(after[i]).toBeCloseTo(tau * before[i]! + (1 - tau) * online[i]!, 5);
    x.dispose();
    opt.dispose();
    method.dispose();
    disposeModule(model);
  });

  it('steps do not grow tf.memory().numTensors', () => {
    const model = buildModel(TINY_SPEC, 1);
    const cfg = tinyConfig(byolOptions);
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

  // BYOL on 192 images is noisy from seed to seed (probe 0.58–0.83 over seeds 0–2 at τ = 0.9, 60 epochs),
  // and one seed's figure moves with the machine's floating-point summation order; the mean of three seeds
  // is the claim that holds (0.77 against 0.59 for the random-init encoder when this was written).
  it('pre-training lowers the loss and, averaged over three seeds, beats the random-init encoder on a tiny task', async () => {
    const cfg = tinyConfig({ ...byolOptions, momentum: 0.9 }, { epochs: 60 });
    const outcomes = [];
    for (const seed of [0, 1, 2]) outcomes.push(await tinyPretrainOutcome(cfg, seed));
    for (const o of outcomes) {
      const h = o.result.history;
      expect(h.at(-1)!.loss).toBeLessThan(h[0]!.loss - 0.5);
      expect(o.tensorsAfter).toBe(o.tensorsBefore);
    }
    const meanProbe = outcomes.reduce((a, o) => a + o.probe, 0) / outcomes.length;
    expect(meanProbe).toBeGreaterThan(outcomes[0]!.randomProbe + 0.08);
  }, 120_000);
});
