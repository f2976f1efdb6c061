import { beforeAll, describe, expect, it } from 'vitest';
import { tf, type Tensor2D } from '../../engine/tf.js';
import { initBackend } from '../../engine/backend.js';
import { crossEntropy } from '../../train/losses.js';
import { gaussianFeatures } from '../../testing/t1Fixtures.js';
import { headAccuracy, headTensors, linearHeadGradSum, ProbeObjective, trainLinearProbe, flattenHead } from './linearProbe.js';

beforeAll(async () => {
  await initBackend(process.env.HEMLOCK_TEST_BACKEND ?? 'wasm');
});

describe('linear probe (the exact T1 victim)', () => {
  it('closed-form ∇W, ∇b of summed CE match autodiff of crossEntropy', () => {
    const f = gaussianFeatures(40, { dim: 6, classes: 3 });
    const h = { w: Float32Array.from({ length: 18 }, (_, i) => Math.sin(i) * 0.3), b: Float32Array.from([0.1, -0.2, 0.05]), dim: 6, numClasses: 3 };
    const [a, b, c, d] = tf.tidy(() => {
      const z = tf.tensor2d(f.z, [40, 6]);
      const y = tf.tensor1d(f.labels, 'int32');
      const { w, b: bias } = headTensors(h);
      const onehot = tf.oneHot(y, 3).toFloat() as Tensor2D;
      const closed = linearHeadGradSum(z, onehot, w, bias);
      const [gw, gb] = tf.grads((ww: tf.Tensor, bb: tf.Tensor) => crossEntropy(tf.add(tf.matMul(z, ww as Tensor2D), bb), y, 'sum') as tf.Scalar)([w, bias]);
      return [closed.gw, gw!, closed.gb, gb!];
    });
    const close = (x: tf.Tensor, r: tf.Tensor) => {
      const xs = x.dataSync();
      const rs = r.dataSync();
      for (let i = 0; i < xs.length; i++) expect(xs[i]).toBeCloseTo(rs[i]!, 4);
    };
    close(a, b);
    close(c, d);
    tf.dispose([a, b, c, d]);
  });

  it('L-BFGS reaches a stationary point of mean CE + λ/2‖W‖², deterministically, without leaking tensors', () => {
    const f = gaussianFeatures(200, { dim: 8, classes: 4, spread: 1.5 });
    const before = tf.memory().numTensors;
    const r1 = trainLinearProbe(f, 4, { l2: 1e-2 });
    const r2 = trainLinearProbe(f, 4, { l2: 1e-2 });
    expect(tf.memory().numTensors).toBe(before);
    expect(Array.from(r1.head.w)).toEqual(Array.from(r2.head.w));
    // The gradient at the solution (independent check through ProbeObjective).
    const obj = new ProbeObjective(f, 4, 1e-2);
    const { grad } = obj.evaluate(flattenHead(r1.head));
    obj.dispose();
    expect(Math.max(...Array.from(grad, Math.abs))).toBeLessThan(1e-3);
    expect(headAccuracy(r1.head, f)).toBeGreaterThan(0.6);
  });
});
