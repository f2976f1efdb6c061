import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../tf.js';
import { initBackend } from '../backend.js';
import { Rng } from '../rng.js';
import { WASM_CONV_CASES, convCaseName as caseName, convOutShape as outShape, filterShape, randn, relErr, type ConvCase as Case, runConv2DBackpropFilter } from '../../testing/kernelCases.js';
import { registerWasmKernels } from './index.js';
import { conv2DBackpropFilterWasm } from './conv2dBackpropFilter.js';

const CASES = WASM_CONV_CASES;

describe('Conv2DBackpropFilter on wasm', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  it('is registered on wasm, and registerWasmKernels() is idempotent', () => {
    registerWasmKernels();
    registerWasmKernels();
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')?.kernelFunc).toBe(conv2DBackpropFilterWasm);
  });

  for (const [i, c] of CASES.entries()) {
    it(`matches the cpu backend: ${caseName(c)}`, async () => {
      const rng = new Rng(`bpf-${i}`);
      const xv = randn(rng, c.x.reduce((a, b) => a * b, 1));
      const dyv = randn(rng, outShape(c).reduce((a, b) => a * b, 1));
      await tf.setBackend('cpu');
      const want = runConv2DBackpropFilter(c, xv, dyv);
      await tf.setBackend('wasm');
      const got = runConv2DBackpropFilter(c, xv, dyv);
      expect(relErr(got, want)).toBeLessThan(1e-4);
    });
  }

  it('gives the same conv2d weight gradient as cpu through tf.grad (a training step)', async () => {
    const rng = new Rng('bpf-grad');
    const xv = randn(rng, 2 * 9 * 7 * 3);
    const wv = randn(rng, 3 * 3 * 3 * 4);
    const rv = randn(rng, 2 * 5 * 4 * 4);
    const grad = () =>
      tf.tidy(() => {
        const x = tf.tensor4d(xv, [2, 9, 7, 3]);
        const r = tf.tensor4d(rv, [2, 5, 4, 4]);
        const g = tf.grad((w: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(x, w as tf.Tensor4D, 2, 'same'), r)));
        return g(tf.tensor4d(wv, [3, 3, 3, 4])).dataSync() as Float32Array;
      });
    await tf.setBackend('cpu');
    const want = grad();
    await tf.setBackend('wasm');
    const got = grad();
    expect(relErr(got, want)).toBeLessThan(1e-4);
  });

  it('rejects NCHW', async () => {
    await tf.setBackend('wasm');
    const x = tf.zeros([1, 2, 5, 5]);
    const dy = tf.zeros([1, 3, 5, 5]);
    expect(() =>
      tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, {
        strides: 1,
        pad: 'same',
        dataFormat: 'NCHW',
        filterShape: [3, 3, 2, 3],
      } as unknown as tf.NamedAttrMap),
    ).toThrow(/NHWC/);
    tf.dispose([x, dy]);
  });

  it('does not leak: 50 calls leave tensors, data buffers and backend data ids unchanged', async () => {
    await tf.setBackend('wasm');
    const x = tf.randomNormal([2, 9, 7, 3], 0, 1, 'float32', 1);
    const dy = tf.randomNormal([2, 5, 4, 4], 0, 1, 'float32', 2);
    const attrs = { strides: 2, pad: 'same', dataFormat: 'NHWC', filterShape: [3, 3, 3, 4] } as unknown as tf.NamedAttrMap;
    (tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, attrs) as tf.Tensor).dispose(); // warm-up
    const before = tf.memory();
    const ids = tf.backend().numDataIds();
    let last = 0;
    for (let i = 0; i < 50; i++) {
      const dw = tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, attrs) as tf.Tensor;
      expect(dw.shape).toEqual([3, 3, 3, 4]);
      last = dw.dataSync()[0];
      dw.dispose();
    }
    expect(Number.isFinite(last)).toBe(true);
    const after = tf.memory();
    expect(after.numTensors).toBe(before.numTensors);
    expect(after.numDataBuffers).toBe(before.numDataBuffers);
    expect(tf.backend().numDataIds()).toBe(ids);
    tf.dispose([x, dy]);
  });
});
