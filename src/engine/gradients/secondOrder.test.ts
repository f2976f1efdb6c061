/**
 * End-to-end second-order differentiation through a tiny ConvNet-S-like net,
 * the computation Witches' Brew gradient matching needs:
 *
 *   f(delta) = 1 - cos( grad_theta L(x_target, y_target), grad_theta L(x + delta, y) )
 *
 * over ALL parameters concatenated, and tf.grad(f)(delta) is checked against
 * central finite differences along random directions, on cpu and on wasm.
 *
 * ReLU kinks: f is only piecewise smooth in delta (the relu masks, also inside
 * grad_theta, switch when a pre-activation crosses zero), and a finite
 * difference across a switch measures something else than the gradient. The
 * pre-activations of layer 1 are affine in delta, and those of layer 2 are affine
 * while the layer-1 pattern is fixed, so if every pre-activation has the same
 * sign at delta - h v and delta + h v, no relu switches anywhere on the segment
 * and f is smooth there. The test checks exactly that and shrinks h (from 1e-2,
 * by 4x) until it holds, so the comparison is always between the gradient and a
 * difference quotient of a smooth function. (The max in the cross-entropy does
 * not matter: log-softmax does not depend on which logit is subtracted.)
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../tf.js';
import { initBackend } from '../backend.js';
import { Rng } from '../rng.js';

type T = tf.Tensor;

function tensor(rng: Rng, shape: number[], draw: (r: Rng) => number): T {
  const n = shape.reduce((a, b) => a * b, 1);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = draw(rng);
  return tf.tensor(a, shape);
}

interface Net {
  params: T[]; // w1 [3,3,1,4], b1 [4], w2 [3,3,4,8], wd [8,3], bd [3]
}

/** conv3x3 1->4 s1 same + bias + relu, conv3x3 4->8 s2 same + relu, mean over H,W, dense 8->3. */
function forward(x: T, params: T[]): { logits: T; pre1: T; pre2: T } {
  const [w1, b1, w2, wd, bd] = params;
  const pre1 = tf.add(tf.conv2d(x as tf.Tensor4D, w1 as tf.Tensor4D, 1, 'same'), b1);
  const h1 = tf.relu(pre1);
  const pre2 = tf.conv2d(h1 as tf.Tensor4D, w2 as tf.Tensor4D, 2, 'same');
  const h2 = tf.relu(pre2);
  const pooled = tf.mean(h2, [1, 2]);
  const logits = tf.add(tf.matMul(pooled as tf.Tensor2D, wd as tf.Tensor2D), bd);
  return { logits, pre1, pre2 };
}

/** Mean cross-entropy from basic ops (max, sub, exp, sum, log, mul, neg, mean). */
function crossEntropy(logits: T, onehot: T): tf.Scalar {
  const z = tf.sub(logits, tf.max(logits, 1, true));
  const logp = tf.sub(z, tf.log(tf.sum(tf.exp(z), 1, true)));
  return tf.mean(tf.neg(tf.sum(tf.mul(onehot, logp), 1)));
}

/** grad_theta L(x, y), the chosen parameters' gradients flattened and concatenated. */
function paramGrad(x: T, onehot: T, net: Net, which: number[]): T {
  const chosen = which.map((i) => net.params[i]);
  const loss = (...p: T[]) => {
    const all = net.params.slice();
    which.forEach((i, j) => (all[i] = p[j]));
    return crossEntropy(forward(x, all).logits, onehot);
  };
  return tf.concat(tf.grads(loss)(chosen).map((g) => tf.reshape(g, [-1])));
}

function cosineLoss(a: T, b: T): tf.Scalar {
  const dot = tf.sum(tf.mul(a, b));
  const na = tf.sqrt(tf.sum(tf.square(a)));
  const nb = tf.sqrt(tf.sum(tf.square(b)));
  return tf.sub(1, tf.div(dot, tf.mul(na, nb))) as tf.Scalar;
}

function signPattern(x: T, net: Net): Int8Array {
  const pre = tf.tidy(() => {
    const { pre1, pre2 } = forward(x, net.params);
    return tf.concat([tf.reshape(pre1, [-1]), tf.reshape(pre2, [-1])]);
  });
  const signs = Int8Array.from(pre.dataSync(), (v) => (v > 0 ? 1 : v < 0 ? -1 : 0));
  pre.dispose();
  return signs;
}

const sameArray = (a: Int8Array, b: Int8Array) => a.length === b.length && a.every((v, i) => v === b[i]);

interface Setup {
  net: Net;
  x: T;
  y: T;
  target: T;
  yTarget: T;
  delta: T;
}

function setup(): Setup {
  const rng = new Rng('second-order');
  const normal = (s: number) => (r: Rng) => s * r.normal();
  const net: Net = {
    params: [
      tensor(rng, [3, 3, 1, 4], normal(0.6)),
      tensor(rng, [4], normal(0.1)),
      tensor(rng, [3, 3, 4, 8], normal(0.4)),
      tensor(rng, [8, 3], normal(0.8)),
      tensor(rng, [3], normal(0.1)),
    ],
  };
  const uniform = (r: Rng) => r.next();
  return {
    net,
    x: tensor(rng, [2, 8, 8, 1], uniform),
    y: tf.oneHot(tf.tensor1d([0, 1], 'int32'), 3).toFloat(),
    target: tensor(rng, [2, 8, 8, 1], uniform),
    yTarget: tf.oneHot(tf.tensor1d([2, 2], 'int32'), 3).toFloat(),
    delta: tensor(rng, [2, 8, 8, 1], normal(0.03)),
  };
}

const ALL = [0, 1, 2, 3, 4];
const CONV_WEIGHTS = [0, 2];

function makeF(s: Setup, which: number[]): { f: (d: T) => tf.Scalar; gTarget: T } {
  const gTarget = tf.tidy(() => paramGrad(s.target, s.yTarget, s.net, which));
  const f = (d: T) => cosineLoss(gTarget, paramGrad(tf.add(s.x, d), s.y, s.net, which));
  return { f, gTarget };
}

interface Check {
  h: number;
  analytic: number;
  fd: number;
  relErr: number;
}

function directionalCheck(s: Setup, f: (d: T) => tf.Scalar, grad: T, v: T): Check {
  let h = 1e-2;
  for (; h >= 1e-4; h /= 4) {
    const plus = tf.tidy(() => tf.add(s.delta, tf.mul(h, v)));
    const minus = tf.tidy(() => tf.sub(s.delta, tf.mul(h, v)));
    const xPlus = tf.add(s.x, plus);
    const xMinus = tf.add(s.x, minus);
    const kinkFree = sameArray(signPattern(xPlus, s.net), signPattern(xMinus, s.net));
    tf.dispose([xPlus, xMinus]);
    if (kinkFree) {
      const fp = tf.tidy(() => f(plus).dataSync()[0]);
      const fm = tf.tidy(() => f(minus).dataSync()[0]);
      tf.dispose([plus, minus]);
      const fd = (fp - fm) / (2 * h);
      const analytic = tf.tidy(() => tf.sum(tf.mul(grad, v)).dataSync()[0]);
      return { h, analytic, fd, relErr: Math.abs(analytic - fd) / Math.abs(fd) };
    }
    tf.dispose([plus, minus]);
  }
  throw new Error('no kink-free step h >= 1e-4 along this direction');
}

const results: Record<string, Float32Array> = {};

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`second-order gradient matching through a ConvNet-S-like net (${backend})`, () => {
    let s: Setup;
    beforeAll(async () => {
      await initBackend('wasm'); // registers kernels and gradients once
      await tf.setBackend(backend);
      s = setup();
    });

    for (const [label, which] of [
      ['all parameters', ALL],
      ['conv weights only', CONV_WEIGHTS],
    ] as const) {
      it(`tf.grad of 1 - cos(grad_theta) over ${label} matches central differences`, () => {
        const { f, gTarget } = makeF(s, which);
        const f0 = tf.tidy(() => f(s.delta).dataSync()[0]);
        expect(f0).toBeGreaterThan(0.01); // the two parameter gradients are not aligned
        const grad = tf.grad(f)(s.delta);
        expect(grad.shape).toEqual(s.delta.shape);
        const g = grad.dataSync() as Float32Array;
        if (label === 'all parameters') results[backend] = g.slice();
        const gNorm = Math.hypot(...g);
        expect(gNorm).toBeGreaterThan(1e-3);
        // Three random directions. A direction whose derivative is small next to
        // |grad| (a random v gives |<grad, v>| ~ |grad| here, since |v| ~ sqrt(n))
        // is redrawn: there the float32 noise of the difference quotient (~3e-5
        // on wasm) is a sizeable part of the value and a relative error says
        // little; and it rules out comparing two numbers that are both ~0. The
        // choice looks only at the difference quotient, never at the analytic
        // value.
        const rng = new Rng(`directions-${label}`);
        let accepted = 0;
        for (let draw = 0; draw < 12 && accepted < 3; draw++) {
          const v = tensor(rng, s.delta.shape, (r) => r.normal());
          const c = directionalCheck(s, f, grad, v);
          v.dispose();
          if (Math.abs(c.fd) < 0.1 * gNorm) continue;
          accepted++;
          expect(c.relErr, JSON.stringify(c)).toBeLessThan(1e-2);
        }
        expect(accepted).toBe(3);
        tf.dispose([grad, gTarget]);
      });
    }

    it('does not leak: 50 second-order gradient evaluations leave tf.memory() unchanged', () => {
      const { f, gTarget } = makeF(s, ALL);
      tf.grad(f)(s.delta).dispose(); // warm-up
      const before = tf.memory();
      for (let i = 0; i < 50; i++) tf.grad(f)(s.delta).dispose();
      const after = tf.memory();
      expect(after.numTensors).toBe(before.numTensors);
      expect(after.numDataBuffers).toBe(before.numDataBuffers);
      gTarget.dispose();
    });
  });
}

describe('second-order gradient: backends agree', () => {
  it('cpu and wasm give the same tf.grad(f)(delta)', () => {
    const a = results.wasm;
    const b = results.cpu;
    expect(a).toBeDefined();
    expect(b).toBeDefined();
    let num = 0;
    let den = 0;
    for (let i = 0; i < a.length; i++) {
      num = Math.max(num, Math.abs(a[i] - b[i]));
      den = Math.max(den, Math.abs(b[i]));
    }
    expect(num / den).toBeLessThan(1e-3);
  });
});
