import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../tf.js';
import { initBackend } from '../backend.js';
import { registerWasmKernels } from './index.js';
import { identityWasm } from './identity.js';

describe('Identity on wasm (no copy)', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  it('is registered on wasm, idempotently', () => {
    registerWasmKernels();
    registerWasmKernels();
    expect(tf.getKernel('Identity', 'wasm')?.kernelFunc).toBe(identityWasm);
  });

  it('clones share data safely: disposing either side keeps the other intact', () => {
    const before = tf.memory().numTensors;
    for (const dtype of ['float32', 'int32', 'bool'] as const) {
      const x = tf.tensor([1, 0, 3, 4, 5, 0], [2, 3], dtype);
      const y = tf.clone(x);
      expect(y.shape).toEqual([2, 3]);
      expect(y.dtype).toBe(dtype);
      x.dispose();
      expect(Array.from(y.dataSync())).toEqual(dtype === 'bool' ? [1, 0, 1, 1, 1, 0] : [1, 0, 3, 4, 5, 0]);
      const z = tf.clone(y);
      y.dispose();
      expect(Array.from(z.dataSync()).length).toBe(6);
      z.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('variables built from, assigned from and cloned into stay independent', () => {
    const x = tf.tensor1d([1, 2, 3]);
    const v = tf.variable(x);
    const c = tf.clone(v);
    v.assign(tf.tensor1d([7, 8, 9]));
    expect(Array.from(c.dataSync())).toEqual([1, 2, 3]);
    expect(Array.from(x.dataSync())).toEqual([1, 2, 3]);
    expect(Array.from(v.dataSync())).toEqual([7, 8, 9]);
    tf.dispose([x, v, c]);
  });

  it('gradients through saved (cloned) activations match the cpu backend', async () => {
    const run = () =>
      tf.tidy(() => {
        const x = tf.tensor4d(Array.from({ length: 2 * 5 * 5 * 2 }, (_, i) => Math.sin(i)), [2, 5, 5, 2]);
        const w = tf.tensor4d(Array.from({ length: 3 * 3 * 2 * 3 }, (_, i) => Math.cos(i)), [3, 3, 2, 3]);
        const g = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.square(tf.relu(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, 'same')))))([x, w]);
        return g.flatMap((t) => Array.from(t.dataSync()));
      });
    await tf.setBackend('cpu');
    const want = run();
    await tf.setBackend('wasm');
    const got = run();
    for (let i = 0; i < want.length; i++) expect(got[i]).toBeCloseTo(want[i]!, 3);
  });
});
