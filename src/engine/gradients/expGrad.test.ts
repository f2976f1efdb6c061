import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../tf.js';
import { initBackend } from '../backend.js';
import { expGradConfig } from './expGrad.js';
import { registerGradients } from './index.js';

function close(a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-5): void {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < a.length; i++) expect(Math.abs(a[i] - b[i])).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(b[i])));
}

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`gradient of Exp (${backend})`, () => {
    beforeAll(async () => {
      await initBackend('wasm'); // registers kernels and gradients once
      await tf.setBackend(backend);
    });

    it('replaces the tfjs gradient, and registerGradients() is idempotent', () => {
      registerGradients();
      registerGradients();
      expect(tf.getGradient('Exp')).toBe(expGradConfig);
    });

    it('first order: d/dx sum(exp(x)) = exp(x)', () => {
      const x = tf.tensor1d([0.1, 0.5, -0.3, 2]);
      const g = tf.grad((t: tf.Tensor) => tf.sum(tf.exp(t)))(x);
      close(g.dataSync(), tf.exp(x).dataSync());
      tf.dispose([x, g]);
    });

    it('second order (broken with the tfjs gradient): d/dx sum(c * grad(sum exp)(x)) = c * exp(x)', () => {
      const x = tf.tensor1d([0.1, 0.5, -0.3, 2]);
      const c = tf.tensor1d([1, 2, 3, -1]);
      const gg = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(c, tf.grad((z: tf.Tensor) => tf.sum(tf.exp(z)))(t))))(x);
      close(gg.dataSync(), tf.mul(c, tf.exp(x)).dataSync());
      tf.dispose([x, c, gg]);
    });

    it('second order through softmax cross-entropy built from exp: Hessian-vector product matches finite differences', () => {
      // L(z) = log(sum exp z) - z_0; grad = softmax(z) - e_0; H v = (diag(p) - p p^T) v.
      const z = tf.tensor1d([0.3, -1.2, 0.8, 0.1]);
      const v = tf.tensor1d([0.5, 1, -2, 0.25]);
      const gradL = (t: tf.Tensor) =>
        tf.grad((u: tf.Tensor) => tf.sub(tf.log(tf.sum(tf.exp(u))), tf.slice(u, [0], [1]).sum()))(t);
      const hv = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(gradL(t), v)))(z);
      const p = tf.softmax(z);
      const want = tf.sub(tf.mul(p, v), tf.mul(p, tf.sum(tf.mul(p, v))));
      close(hv.dataSync(), want.dataSync(), 1e-4);
      tf.dispose([z, v, hv, p, want]);
    });
  });
}
