import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../tf.js';
import { initBackend } from '../backend.js';
import { Rng } from '../rng.js';
import { WASM_CONV_CASES, convCaseName as caseName, convOutShape as outShape, filterShape, randn, relErr, type ConvCase as Case, runConv2DBackpropInput } from '../../testing/kernelCases.js';
import { registerWasmKernels } from './index.js';
import { conv2DBackpropInputWasm } from './conv2dBackpropInput.js';

const CASES = WASM_CONV_CASES;

describe('Conv2DBackpropInput on wasm (hemlock kernel)', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  it('replaces the built-in kernel on wasm, and registerWasmKernels() is idempotent', () => {
    registerWasmKernels();
    registerWasmKernels();
    expect(tf.getKernel('Conv2DBackpropInput', 'wasm')?.kernelFunc).toBe(conv2DBackpropInputWasm);
  });

  for (const [i, c] of CASES.entries()) {
    it(`matches the cpu backend: ${caseName(c)}`, async () => {
      const rng = new Rng(`bpi-${i}`);
      const dyv = randn(rng, outShape(c).reduce((a, b) => a * b, 1));
      const wv = randn(rng, c.k[0] * c.k[1] * c.x[3] * c.cout);
      await tf.setBackend('cpu');
      const want = runConv2DBackpropInput(c, dyv, wv);
      await tf.setBackend('wasm');
      const got = runConv2DBackpropInput(c, dyv, wv);
      expect(relErr(got, want)).toBeLessThan(1e-4);
    });
  }

  it('gives the same conv2d input gradient and conv2dTranspose as cpu', async () => {
    const rng = new Rng('bpi-grad');
    const xv = randn(rng, 2 * 9 * 7 * 3);
    const wv = randn(rng, 3 * 3 * 3 * 4);
    const rv = randn(rng, 2 * 5 * 4 * 4);
    const run = () =>
      tf.tidy(() => {
        const w = tf.tensor4d(wv, [3, 3, 3, 4]);
        const r = tf.tensor4d(rv, [2, 5, 4, 4]);
        const g = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(x as tf.Tensor4D, w, 2, 'same'), r)));
        const dx = g(tf.tensor4d(xv, [2, 9, 7, 3])).dataSync() as Float32Array;
        const t = tf.conv2dTranspose(r, w, [2, 9, 7, 3], 2, 'same').dataSync() as Float32Array;
        return { dx, t };
      });
    await tf.setBackend('cpu');
    const want = run();
    await tf.setBackend('wasm');
    const got = run();
    expect(relErr(got.dx, want.dx)).toBeLessThan(1e-4);
    expect(relErr(got.t, want.t)).toBeLessThan(1e-4);
  });

  it('rejects NCHW', async () => {
    await tf.setBackend('wasm');
    const dy = tf.zeros([1, 3, 5, 5]);
    const filter = tf.zeros([3, 3, 2, 3]);
    expect(() =>
      tf.engine().runKernel('Conv2DBackpropInput', { dy, filter }, {
        strides: 1,
        pad: 'same',
        dataFormat: 'NCHW',
        inputShape: [1, 2, 5, 5],
      } as unknown as tf.NamedAttrMap),
    ).toThrow(/NHWC/);
    tf.dispose([dy, filter]);
  });

  it('does not leak: 50 calls leave tensors, data buffers and backend data ids unchanged', async () => {
    await tf.setBackend('wasm');
    const dy = tf.randomNormal([2, 5, 4, 4], 0, 1, 'float32', 1);
    const filter = tf.randomNormal([3, 3, 3, 4], 0, 1, 'float32', 2);
    const attrs = { strides: 2, pad: 'same', dataFormat: 'NHWC', inputShape: [2, 9, 7, 3] } as unknown as tf.NamedAttrMap;
    (tf.engine().runKernel('Conv2DBackpropInput', { dy, filter }, attrs) as tf.Tensor).dispose(); // warm-up
    const before = tf.memory();
    const ids = tf.backend().numDataIds();
    let last = 0;
    for (let i = 0; i < 50; i++) {
      const dx = tf.engine().runKernel('Conv2DBackpropInput', { dy, filter }, attrs) as tf.Tensor;
      expect(dx.shape).toEqual([2, 9, 7, 3]);
      last = dx.dataSync()[0];
      dx.dispose();
    }
    expect(Number.isFinite(last)).toBe(true);
    const after = tf.memory();
    expect(after.numTensors).toBe(before.numTensors);
    expect(after.numDataBuffers).toBe(before.numDataBuffers);
    expect(tf.backend().numDataIds()).toBe(ids);
    tf.dispose([dy, filter]);
  });
});
