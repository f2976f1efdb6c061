import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../tf.js';
import { initBackend } from '../backend.js';
import { equalGradConfig } from './equalGrad.js';
import { registerGradients } from './index.js';

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`gradient of Equal (${backend})`, () => {
    beforeAll(async () => {
      await initBackend('wasm'); // registers kernels and gradients once
      await tf.setBackend(backend);
    });

    it('is registered, and registerGradients() is idempotent', () => {
      registerGradients();
      registerGradients();
      expect(tf.getGradient('Equal')).toBe(equalGradConfig);
    });

    it('is zero: d/dx sum(cast(x == max(x)) * x) is the mask itself', () => {
      const x = tf.tensor1d([1, 5, 3, 5]);
      const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.cast(tf.equal(t, tf.max(t)), 'float32'), t)))(x);
      expect(Array.from(g.dataSync())).toEqual([0, 1, 0, 1]);
      tf.dispose([x, g]);
    });

    it('lets a gradient through max be differentiated: d/dx <grad max(x), x> = grad max(x)', () => {
      const x = tf.tensor1d([1, 5, 3, 2]);
      const gg = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.grad((u: tf.Tensor) => tf.max(u))(t), t)))(x);
      expect(Array.from(gg.dataSync())).toEqual([0, 1, 0, 0]);
      tf.dispose([x, gg]);
    });

    it('keeps broadcast input shapes', () => {
      const a = tf.tensor2d([[1, 2], [3, 4]]);
      const b = tf.tensor1d([1, 4]);
      const [ga, gb] = tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.mul(tf.cast(tf.equal(p, q), 'float32'), p)))([a, b]);
      expect(ga.shape).toEqual([2, 2]);
      expect(gb.shape).toEqual([2]);
      expect(Array.from(ga.dataSync())).toEqual([1, 0, 0, 1]);
      expect(Array.from(gb.dataSync())).toEqual([0, 0]);
      tf.dispose([a, b, ga, gb]);
    });
  });
}
