import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../engine/tf.js';
import { initBackend } from '../../engine/backend.js';
import { Rng } from '../../engine/rng.js';
import { buildModel } from '../../models/registry.js';
import { disposeModule } from '../../models/module.js';
import { randomMatrix, syntheticShapes } from '../../testing/sslFixtures.js';
import { Optimizer } from '../optimizers.js';
import { enqueue, infoNce } from './moco.js';
import { createSslMethod, gatherImages, sslStep } from './pretrain.js';
import { TINY_SPEC, tinyConfig, tinyPretrainOutcome } from './testing.js';

const BACKEND = process.env.HEMLOCK_TEST_BACKEND ?? 'wasm';

const unit = (m: number[][]) =>
  m.map((r) => {
    const norm = Math.sqrt(r.reduce((a, v) => a + v * v, 0));
    return r.map((v) => v / norm);
  });
const dot = (a: number[], b: number[]) => a.reduce((s, v, i) => s + v * b[i]!, 0);

/** InfoNCE by its definition: −log softmax of the positive among [positive, queue]. */
function infoNceLoop(q: number[][], k: number[][], queue: number[][], tau: number): number {
  let total = 0;
  for (let i = 0; i < q.length; i++) {
    const logits = [dot(q[i]!, k[i]!), ...queue.map((n) => dot(q[i]!, n))].map((v) => v / tau);
    total += -logits[0]! + Math.log(logits.reduce((a, v) => a + Math.exp(v), 0));
  }
  return total / q.length;
}

const mocoOptions = { method: 'moco' as const, temperature: 0.2, queueSize: 96, momentum: 0.9, momentumEnd: 0.99 };

describe(`MoCo v2 (${BACKEND})`, () => {
  beforeAll(async () => {
    await initBackend(BACKEND);
  });

  it('InfoNCE equals the per-query formula', () => {
    const q = unit(randomMatrix(5, 4, 1));
    const k = unit(randomMatrix(5, 4, 2));
    const queue = unit(randomMatrix(7, 4, 3));
    const got = infoNce(tf.tensor2d(q), tf.tensor2d(k), tf.tensor2d(queue), 0.2).dataSync()[0]!;
    expect(got).toBeCloseTo(infoNceLoop(q, k, queue, 0.2), 4);
  });

  it('the queue is a ring buffer: keys overwrite the oldest rows, wrapping around', () => {
    const K = 7;
    let ref = Array.from({ length: K }, (_, i) => [i, -i]);
    let queue: tf.Tensor = tf.tensor2d(ref);
    let ptr = 0;
    let next = 100;
    for (const m of [3, 3, 3, 5, 1, 7, 9]) {
      const keys = Array.from({ length: m }, () => [next, next++ * 2]);
      const r = enqueue(queue, tf.tensor2d(keys), ptr);
      if (m >= K) {
        // The whole queue is replaced by the last K keys, in order from row 0.
        ref = keys.slice(m - K);
        expect(r.queue.arraySync()).toEqual(ref);
        expect(r.ptr).toBe(0);
      } else {
        // Reference: write row by row at ptr, wrapping mod K.
        ref = ref.map((row) => row.slice());
        let p = ptr;
        for (const key of keys) {
          ref[p] = key;
          p = (p + 1) % K;
        }
        expect(r.queue.arraySync()).toEqual(ref);
        expect(r.ptr).toBe(p);
      }
      queue.dispose();
      queue = r.queue;
      ptr = r.ptr;
    }
    queue.dispose();
  });

  it('the momentum encoder is an EMA of the query encoder and the queue fills with keys', () => {
    const model = buildModel(TINY_SPEC, 1);
    const cfg = tinyConfig({ ...mocoOptions, queueSize: 40 });
    const method = createSslMethod(model.body, cfg, new Rng(1));
    const opt = new Optimizer(cfg.optimizer);
    const x = gatherImages(syntheticShapes(16), Array.from({ length: 16 }, (_, i) => i));
    const name = Object.keys(model.body.params)[0]!;
    const target = method.state[`momentumEncoder/${name}`]!;
    const before = Array.from(target.dataSync());
    sslStep(method, opt, x, cfg.augment, new Rng(2), 0);
    const online = Array.from(model.body.params[name]!.dataSync());
    const tau = 0.9; // momentumAt(0.9, 0.99, 0)
    const after = Array.from(target.dataSync());
    for (let i = 0; i < after.length; i += 7) expect(after[i]).toBeCloseTo(tau * before[i]! + (1 - tau) * online[i]!, 5);
    expect(method.getExtra!()).toEqual({ queuePtr: 32 }); // 2 views × 16 keys
    const queue = method.state['queue']!.arraySync() as number[][];
    for (const row of queue.slice(0, 32)) expect(Math.hypot(...row)).toBeCloseTo(1, 4);
    x.dispose();
    opt.dispose();
    method.dispose();
    disposeModule(model);
  });

  it('steps do not grow tf.memory().numTensors', () => {
    const model = buildModel(TINY_SPEC, 1);
    const cfg = tinyConfig(mocoOptions);
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
    const o = await tinyPretrainOutcome(tinyConfig(mocoOptions));
    const h = o.result.history;
    // The queue starts as random unit vectors and fills with ever harder keys, so
    // compare the end with the worst early epoch rather than the very first.
    expect(h.at(-1)!.loss).toBeLessThan(Math.max(...h.slice(0, 5).map((r) => r.loss)) - 0.2);
    expect(o.probe).toBeGreaterThan(o.randomProbe + 0.05);
    expect(o.tensorsAfter).toBe(o.tensorsBefore);
  });
});
