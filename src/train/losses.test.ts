import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../engine/tf.js';
import { initBackend } from '../engine/backend.js';
import { crossEntropy } from './losses.js';

const BACKEND = process.env.HEMLOCK_TEST_BACKEND ?? 'wasm';

describe(`cross-entropy (${BACKEND})`, () => {
  beforeAll(async () => {
    await initBackend(BACKEND);
  });

  it('matches a hand-computed value', () => {
    // logits [0, ln 3] label 1: p = 3/4, CE = ln(4/3); label 0: p = 1/4, CE = ln 4
    const logits = tf.tensor2d([[0, Math.log(3)], [0, Math.log(3)]]);
    const ce = crossEntropy(logits, tf.tensor1d([1, 0], 'int32'), 'none').dataSync();
    expect(ce[0]).toBeCloseTo(Math.log(4 / 3), 5);
    expect(ce[1]).toBeCloseTo(Math.log(4), 5);
  });

  it("matches tfjs's softmaxCrossEntropy and is stable for large logits", () => {
    const logits = tf.tensor2d([[1000, 0, -1000], [3, 2, 1]]);
    const labels = tf.tensor1d([0, 2], 'int32');
    const ours = crossEntropy(logits, labels).dataSync()[0]!;
    const theirs = tf.losses.softmaxCrossEntropy(tf.oneHot(labels, 3), logits).dataSync()[0]!;
    expect(Number.isFinite(ours)).toBe(true);
    expect(ours).toBeCloseTo(theirs, 4);
  });

  it('has a second derivative (Hessian-vector product matches finite differences)', () => {
    const z = tf.tensor2d([[0.3, -0.2, 0.5]]);
    const v = tf.tensor2d([[0.7, 0.1, -0.4]]);
    const y = tf.tensor1d([2], 'int32');
    const g = (t: tf.Tensor) => tf.grad((u: tf.Tensor) => crossEntropy(u, y))(t);
    // d/dh <∇CE(z + h v), v> at h=0, analytically vs central difference.
    const hv = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(g(t), v)))(z);
    const analytic = tf.sum(tf.mul(hv, v)).dataSync()[0]!;
    const h = 1e-2;
    const fd = (tf.sum(tf.mul(g(tf.add(z, tf.mul(v, h))), v)).dataSync()[0]! - tf.sum(tf.mul(g(tf.sub(z, tf.mul(v, h))), v)).dataSync()[0]!) / (2 * h);
    expect(Math.abs(analytic - fd) / Math.abs(fd)).toBeLessThan(1e-2);
    expect(Math.abs(analytic)).toBeGreaterThan(1e-3);
  });
});
