import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../engine/tf.js';
import { initBackend } from '../../engine/backend.js';
import { Rng } from '../../engine/rng.js';
import { buildModel } from '../../models/registry.js';
import { disposeModule } from '../../models/module.js';
import { randomMatrix, syntheticShapes } from '../../testing/sslFixtures.js';
import { Optimizer } from '../optimizers.js';
import { ntXent } from './simclr.js';
import { createSslMethod, gatherImages, sslStep } from './pretrain.js';
import { TINY_SPEC, tinyConfig, tinyPretrainOutcome } from './testing.js';

const BACKEND = process.env.HEMLOCK_TEST_BACKEND ?? 'wasm';

/** NT-Xent by its definition, one anchor at a time, in float64. */
function ntXentLoop(z: number[][], tau: number): number {
  const n = z.length;
  const b = n / 2;
  const unit = z.map((r) => {
    const norm = Math.sqrt(r.reduce((a, v) => a + v * v, 0));
    return r.map((v) => v / norm);
  });
  const sim = (i: number, j: number) => unit[i]!.reduce((a, v, k) => a + v * unit[j]![k]!, 0) / tau;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const pos = i < b ? i + b : i - b;
    let denom = 0;
    for (let k = 0; k < n; k++) if (k !== i) denom += Math.exp(sim(i, k));
    total += -sim(i, pos) + Math.log(denom);
  }
  return total / n;
}

describe(`SimCLR (${BACKEND})`, () => {
  beforeAll(async () => {
    await initBackend(BACKEND);
  });

  for (const [rows, tau] of [[6, 0.5], [10, 0.2], [4, 1]] as const) {
    it(`NT-Xent equals the per-anchor formula (2B=${rows}, τ=${tau})`, () => {
      const z = randomMatrix(rows, 5, rows);
      const got = ntXent(tf.tensor2d(z), tau).dataSync()[0]!;
      expect(got).toBeCloseTo(ntXentLoop(z, tau), 4);
    });
  }

  it('NT-Xent is low when the two views agree and differ from other images', () => {
    const a = [[1, 0, 0], [0, 1, 0], [0, 0, 1]];
    const good = ntXent(tf.tensor2d([...a, ...a]), 0.1).dataSync()[0]!;
    const bad = ntXent(tf.tensor2d([...a, a[1]!, a[2]!, a[0]!]), 0.1).dataSync()[0]!;
    expect(good).toBeLessThan(0.01);
    expect(bad).toBeGreaterThan(5);
  });

  it('steps do not grow tf.memory().numTensors', () => {
    const model = buildModel(TINY_SPEC, 1);
    const cfg = tinyConfig({ method: 'simclr', temperature: 0.2 });
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
    const o = await tinyPretrainOutcome(tinyConfig({ method: 'simclr', temperature: 0.2 }));
    const h = o.result.history;
    expect(h.at(-1)!.loss).toBeLessThan(h[0]!.loss - 0.3);
    expect(o.probe).toBeGreaterThan(o.randomProbe + 0.05);
    expect(o.tensorsAfter).toBe(o.tensorsBefore);
  });
});
