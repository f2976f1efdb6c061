import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../engine/tf.js';
import { initBackend } from '../engine/backend.js';
import { Rng } from '../engine/rng.js';
import { buildModel, type ModelSpec } from '../models/registry.js';
import { disposeModule } from '../models/module.js';
import { crossEntropy } from '../train/losses.js';
import { cosineMatchingLoss, matchingStep, parameterGradients, projectLinfBox, SignAdam, stepLearningRate, targetGradient } from './gradientMatching.js';

const BACKEND = process.env.HEMLOCK_TEST_BACKEND ?? 'wasm';

const SPEC: ModelSpec = { architecture: 'convnet-s', inputShape: [8, 8, 1], numClasses: 3, head: 'linear', options: { widths: [3, 4, 5] } };

function uniform(rng: Rng, shape: number[], lo = 0, hi = 1): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(Float32Array.from({ length: n }, () => rng.uniform(lo, hi)), shape);
}

beforeAll(async () => {
  await initBackend(BACKEND);
});

describe('gradient matching pieces', () => {
  it('parameterGradients equals tf.variableGrads of the same loss, in parameter order', () => {
    const model = buildModel(SPEC, 3);
    const rng = new Rng('pg');
    const x = uniform(rng, [4, 8, 8, 1]);
    const y = tf.tensor1d([0, 1, 2, 1], 'int32');
    const ours = parameterGradients(model, x, y);
    const names = Object.keys(model.params);
    const { grads } = tf.variableGrads(() => crossEntropy(model.apply(x), y) as tf.Scalar, names.map((k) => model.params[k]!));
    names.forEach((k, i) => {
      const a = ours[i]!.dataSync();
      const b = grads[model.params[k]!.name]!.dataSync();
      expect(a.length).toBe(b.length);
      for (let j = 0; j < a.length; j++) expect(a[j]).toBeCloseTo(b[j]!, 5);
    });
    tf.dispose([...ours, ...Object.values(grads), x, y]);
    disposeModule(model);
  });

  it('cosineMatchingLoss is 1 − cos of the concatenated gradients (checked in plain JS)', () => {
    const rng = new Rng('cos');
    const shapes = [[3, 2], [4], [2, 2, 2]];
    const gt = shapes.map((s) => uniform(rng, s, -1, 1));
    const gp = shapes.map((s) => uniform(rng, s, -1, 1));
    const norm = tf.sqrt(tf.addN(gt.map((g) => tf.sum(tf.square(g))))) as tf.Scalar;
    const target = { model: null as never, grads: gt, norm, size: 0, training: false, dispose: () => {} };
    const loss = cosineMatchingLoss(target, gp).dataSync()[0]!;
    const a = gt.flatMap((g) => Array.from(g.dataSync()));
    const b = gp.flatMap((g) => Array.from(g.dataSync()));
    const dot = a.reduce((s, v, i) => s + v * b[i]!, 0);
    const cos = dot / (Math.hypot(...a) * Math.hypot(...b));
    expect(loss).toBeCloseTo(1 - cos, 5);
    // Identical gradients match perfectly; opposite ones give 2.
    expect(cosineMatchingLoss(target, gt).dataSync()[0]).toBeCloseTo(0, 5);
    const neg = gt.map((g) => tf.neg(g));
    expect(cosineMatchingLoss(target, neg).dataSync()[0]).toBeCloseTo(2, 5);
    tf.dispose([...gt, ...gp, ...neg, norm]);
  });

  it('the gradient w.r.t. Δ matches a central difference along its own direction', () => {
    // Along u = g/|g| the directional derivative is |g|, a large signal next to
    // float32 noise; h is small enough that no relu switches on the segment for
    // this seed (checked: the two one-sided quotients agree).
    const model = buildModel(SPEC, 5);
    const rng = new Rng('fd');
    const xt = uniform(rng, [1, 8, 8, 1]) as tf.Tensor4D;
    const tg = targetGradient(model, xt, 2);
    const x = uniform(rng, [3, 8, 8, 1], 0.1, 0.9) as tf.Tensor4D;
    const y = tf.tensor1d([0, 0, 0], 'int32');
    const d0 = uniform(rng, [3, 8, 8, 1], -0.05, 0.05) as tf.Tensor4D;
    const { loss, grad } = matchingStep([tg], x, d0, y);
    const g = grad.dataSync();
    const gNorm = Math.hypot(...g);
    expect(gNorm).toBeGreaterThan(1e-4);
    const f = (h: number) =>
      tf.tidy(() => {
        const d = tf.add(d0, tf.mul(grad, h / gNorm)) as tf.Tensor4D;
        return cosineMatchingLoss(tg, parameterGradients(model, tf.add(x, d), y)).dataSync()[0]!;
      });
    const h = 1e-3;
    const fp = f(h);
    const fm = f(-h);
    const f0 = f(0);
    expect(f0).toBeCloseTo(loss, 5);
    const central = (fp - fm) / (2 * h);
    expect(Math.abs(central - gNorm) / gNorm).toBeLessThan(0.02);
    tf.dispose([xt, x, y, d0, grad]);
    tg.dispose();
    disposeModule(model);
  });

  it('an ensemble sums the gradients of its members and averages their losses', () => {
    const a = buildModel(SPEC, 7);
    const b = buildModel(SPEC, 8);
    const rng = new Rng('ens');
    const xt = uniform(rng, [1, 8, 8, 1]) as tf.Tensor4D;
    const ta = targetGradient(a, xt, 1);
    const tb = targetGradient(b, xt, 1);
    const x = uniform(rng, [2, 8, 8, 1]) as tf.Tensor4D;
    const y = tf.tensor1d([1, 1], 'int32');
    const d = tf.zeros([2, 8, 8, 1]) as tf.Tensor4D;
    const ra = matchingStep([ta], x, d, y);
    const rb = matchingStep([tb], x, d, y);
    const rab = matchingStep([ta, tb], x, d, y);
    expect(rab.loss).toBeCloseTo((ra.loss + rb.loss) / 2, 6);
    const sum = tf.add(ra.grad, rb.grad).dataSync();
    const got = rab.grad.dataSync();
    for (let i = 0; i < sum.length; i++) expect(got[i]).toBeCloseTo(sum[i]!, 6);
    tf.dispose([xt, x, y, d, ra.grad, rb.grad, rab.grad]);
    ta.dispose();
    tb.dispose();
    disposeModule(a);
    disposeModule(b);
  });

  it('SignAdam follows PyTorch Adam on sign(g) (bias-corrected moments), step by step', () => {
    const grads = [
      [0.3, -2, 0],
      [0.1, 5, -1],
      [-0.2, 1, -3],
      [4, -1, 2],
    ];
    const lr = 0.1;
    const [b1, b2, eps] = [0.9, 0.999, 1e-8];
    const ref = [0.5, -0.5, 0];
    const m = [0, 0, 0];
    const v = [0, 0, 0];
    const adam = new SignAdam();
    let p: tf.Tensor = tf.tensor1d(ref);
    grads.forEach((g, t) => {
      for (let i = 0; i < 3; i++) {
        const s = Math.sign(g[i]!);
        m[i] = b1 * m[i]! + (1 - b1) * s;
        v[i] = b2 * v[i]! + (1 - b2) * s * s;
        const mh = m[i]! / (1 - b1 ** (t + 1));
        const vh = v[i]! / (1 - b2 ** (t + 1));
        ref[i] = ref[i]! - (lr * mh) / (Math.sqrt(vh) + eps);
      }
      const gt = tf.tensor1d(g);
      const next = adam.step(p, gt, lr);
      tf.dispose([p, gt]);
      p = next;
      const got = p.dataSync();
      for (let i = 0; i < 3; i++) expect(got[i]).toBeCloseTo(ref[i]!, 5);
    });
    // A constant sign moves by lr per step (the familiar sign-Adam property).
    expect(ref[0]! - 0.5).toBeLessThan(0);
    p.dispose();
    adam.dispose();
  });

  it('SignAdam keeps its moments alive inside a caller tidy and leaks nothing', () => {
    const adam = new SignAdam();
    let p: tf.Tensor = tf.zeros([5]);
    const g = tf.ones([5]);
    const step = () => {
      const next = tf.tidy(() => adam.step(p, g, 0.1));
      p.dispose();
      p = next;
    };
    step();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 20; i++) step();
    expect(tf.memory().numTensors).toBe(before);
    // 21 steps of constant sign: p = −2.1.
    expect(p.dataSync()[0]).toBeCloseTo(-2.1, 4);
    tf.dispose([p, g]);
    adam.dispose();
  });

  it('projectLinfBox clips to the ε-ball, then to the image box', () => {
    const x = tf.tensor1d([0, 0.02, 0.5, 0.99, 1]);
    const d = tf.tensor1d([-0.5, -0.05, 0.3, 0.05, 0.01]);
    const out = projectLinfBox(d, x, 0.04).dataSync();
    const want = [0, -0.02, 0.04, 0.01, 0];
    want.forEach((w, i) => expect(out[i]).toBeCloseTo(w, 6));
    tf.dispose([x, d]);
  });

  it('step schedule: ×0.1 at ⌊steps·3/8⌋, ⌊steps·5/8⌋, ⌊steps·7/8⌋ (93, 156, 218 for 250 steps, as the reference)', () => {
    const lr = (s: number) => stepLearningRate(0.1, s, 250, [0.375, 0.625, 0.875], 0.1);
    expect(lr(0)).toBeCloseTo(0.1, 12);
    expect(lr(92)).toBeCloseTo(0.1, 12);
    expect(lr(93)).toBeCloseTo(0.01, 12);
    expect(lr(155)).toBeCloseTo(0.01, 12);
    expect(lr(156)).toBeCloseTo(0.001, 12);
    expect(lr(218)).toBeCloseTo(0.0001, 12);
    expect(lr(249)).toBeCloseTo(0.0001, 12);
  });
});
