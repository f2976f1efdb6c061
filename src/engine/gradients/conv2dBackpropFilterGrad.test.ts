import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../tf.js';
import { initBackend } from '../backend.js';
import { Rng } from '../rng.js';
import { registerGradients } from './index.js';
import { conv2DBackpropFilterGradConfig } from './conv2dBackpropFilterGrad.js';

type Pad = 'same' | 'valid' | number | tf.backend_util.ExplicitPadding;
interface Case {
  x: [number, number, number, number];
  k: [number, number];
  cout: number;
  s: number | [number, number];
  pad: Pad;
}

const CASES: Case[] = [
  { x: [2, 7, 9, 3], k: [3, 3], cout: 5, s: 1, pad: 'same' },
  { x: [2, 7, 9, 3], k: [3, 3], cout: 5, s: 2, pad: 'same' },
  { x: [1, 7, 9, 1], k: [5, 5], cout: 3, s: 2, pad: 'valid' },
  { x: [1, 9, 7, 5], k: [1, 1], cout: 3, s: 2, pad: 'same' },
  { x: [1, 7, 9, 3], k: [3, 3], cout: 5, s: 2, pad: [[0, 0], [1, 2], [0, 3], [0, 0]] },
  { x: [2, 8, 8, 3], k: [5, 5], cout: 3, s: 1, pad: 2 },
];

function randn(rng: Rng, shape: number[], scale = 1): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = scale * rng.normal();
  return tf.tensor(a, shape);
}

function outShape(c: Case): [number, number, number, number] {
  const info = tf.backend_util.computeConv2DInfo(c.x, [c.k[0], c.k[1], c.x[3], c.cout], c.s, 1, c.pad);
  return [c.x[0], info.outHeight, info.outWidth, c.cout];
}

function bpf(c: Case, x: tf.Tensor, dy: tf.Tensor): tf.Tensor {
  return tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, {
    strides: c.s,
    pad: c.pad,
    dataFormat: 'NHWC',
    filterShape: [c.k[0], c.k[1], c.x[3], c.cout],
  } as unknown as tf.NamedAttrMap) as tf.Tensor;
}

const dot = (a: tf.Tensor, b: tf.Tensor): number => tf.tidy(() => tf.sum(tf.mul(a, b)).dataSync()[0]);

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`gradient of Conv2DBackpropFilter (${backend})`, () => {
    beforeAll(async () => {
      await initBackend('wasm'); // registers kernels and gradients once
      await tf.setBackend(backend);
    });

    it('is registered, and registerGradients() is idempotent', () => {
      registerGradients();
      registerGradients();
      expect(tf.getGradient('Conv2DBackpropFilter')).toBe(conv2DBackpropFilterGradConfig);
    });

    for (const [i, c] of CASES.entries()) {
      it(`matches central finite differences: x ${c.x.join('x')} k ${c.k.join('x')} s ${c.s} pad ${JSON.stringify(c.pad)}`, () => {
        const rng = new Rng(`bpf-grad-${backend}-${i}`);
        const x = randn(rng, c.x);
        const dy = randn(rng, outShape(c));
        const r = randn(rng, [c.k[0], c.k[1], c.x[3], c.cout]);
        // f(x, dy) = <dW(x, dy), R>, smooth (bilinear), so central differences
        // are exact up to float32 rounding.
        const f = (xx: tf.Tensor, dd: tf.Tensor) => tf.sum(tf.mul(bpf(c, xx, dd), r)) as tf.Scalar;
        const [gx, gdy] = tf.grads(f)([x, dy]);
        expect(gx.shape).toEqual(x.shape);
        expect(gdy.shape).toEqual(dy.shape);
        const h = 1e-2;
        const vx = randn(rng, c.x);
        const vdy = randn(rng, outShape(c));
        const zx = tf.zerosLike(x);
        const zdy = tf.zerosLike(dy);
        // x alone, dy alone, both at once.
        for (const [ux, udy] of [
          [vx, zdy],
          [zx, vdy],
          [vx, vdy],
        ] as const) {
          const analytic = dot(gx, ux) + dot(gdy, udy);
          const fd = tf.tidy(() => {
            const fp = f(tf.add(x, tf.mul(h, ux)), tf.add(dy, tf.mul(h, udy))).dataSync()[0];
            const fm = f(tf.sub(x, tf.mul(h, ux)), tf.sub(dy, tf.mul(h, udy))).dataSync()[0];
            return (fp - fm) / (2 * h);
          });
          expect(Math.abs(fd)).toBeGreaterThan(0.1); // N(0,1) data: O(1) or larger; not a vacuous 0 == 0
          // f is bilinear, so central differences carry only rounding error
          // (observed <= 2e-4); 2e-3 is tighter than 1e-2 so that a 1% error in
          // either half of the gradient fails.
          expect(Math.abs(analytic - fd) / Math.abs(fd)).toBeLessThan(2e-3);
        }
        tf.dispose([x, dy, r, gx, gdy, vx, vdy, zx, zdy]);
      });
    }
  });
}
