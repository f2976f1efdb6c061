/**
 * Timing of the conv2d backprop variants on ConvNet-S shapes at batch 128 (the
 * numbers in the comment at the top of conv2dBackpropInput.ts). Skipped unless
 * HEMLOCK_BENCH=1, since it takes several minutes (the cpu backend's
 * Conv2DBackpropFilter needs ~1 minute per call on layers 2 and 3):
 *
 *   HEMLOCK_BENCH=1 npx vitest run src/engine/kernels/conv2dBackprop.bench.test.ts
 *
 * The alternatives that lost are kept here (not in the kernels) so the
 * comparison can be repeated.
 */
import { describe, expect, it } from 'vitest';
import { tf } from '../tf.js';
import { initBackend } from '../backend.js';
import { builtinConv2DBackpropInputWasm, registerConv2DBackpropInputWasm } from './conv2dBackpropInput.js';

const LAYERS = [
  { name: 'L1', x: [128, 28, 28, 1] as [number, number, number, number], cout: 32, s: 1 },
  { name: 'L2', x: [128, 28, 28, 32] as [number, number, number, number], cout: 64, s: 2 },
  { name: 'L3', x: [128, 14, 14, 64] as [number, number, number, number], cout: 128, s: 2 },
];

function time(f: () => tf.Tensor, reps: number, warm = true): number {
  if (warm) {
    const w = f();
    w.dataSync();
    w.dispose();
  }
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) {
    const r = f();
    r.dataSync();
    r.dispose();
  }
  return (performance.now() - t0) / reps;
}

function info(xShape: [number, number, number, number], w: tf.Tensor4D, s: number) {
  return tf.backend_util.computeConv2DInfo(xShape, w.shape, s, 1, 'same', undefined, false, 'channelsLast');
}

/** dx as a stride-1 conv of the zero-dilated dy with the flipped, in/out-swapped filter. */
function bpInputDilated(dy: tf.Tensor4D, w: tf.Tensor4D, xShape: [number, number, number, number], s: number): tf.Tensor4D {
  return tf.tidy(() => {
    const c = info(xShape, w, s);
    const [n, oh, ow, co] = dy.shape;
    const [kh, kw] = w.shape;
    let d: tf.Tensor4D = dy;
    if (s > 1) {
      d = tf.reshape(
        tf.pad(tf.reshape(dy, [n, oh, 1, ow, 1, co]), [[0, 0], [0, 0], [0, s - 1], [0, 0], [0, s - 1], [0, 0]]),
        [n, oh * s, ow * s, co],
      ) as tf.Tensor4D;
    }
    const top = kh - 1 - c.padInfo.top;
    const left = kw - 1 - c.padInfo.left;
    const bottom = c.inHeight + kh - 1 - top - oh * s;
    const right = c.inWidth + kw - 1 - left - ow * s;
    if (bottom < 0 || right < 0) {
      d = tf.slice(d, [0, 0, 0, 0], [n, oh * s + Math.min(bottom, 0), ow * s + Math.min(right, 0), co]) as tf.Tensor4D;
    }
    const wf = tf.transpose(tf.reverse(w, [0, 1]), [0, 1, 3, 2]);
    return tf.conv2d(d, wf, 1, [[0, 0], [top, Math.max(bottom, 0)], [left, Math.max(right, 0)], [0, 0]]);
  });
}

/** dx as columns = dy x W^T (one matMul) followed by col2im (pad + add per tap). */
function bpInputCol2im(dy: tf.Tensor4D, w: tf.Tensor4D, xShape: [number, number, number, number], s: number): tf.Tensor4D {
  return tf.tidy(() => {
    const c = info(xShape, w, s);
    const [n, oh, ow, co] = dy.shape;
    const [kh, kw, ci] = w.shape;
    const wT = tf.transpose(tf.reshape(w, [kh * kw * ci, co])); // explicit: transposeB matMul is slow on wasm
    const cols = tf.reshape(tf.matMul(tf.reshape(dy, [-1, co]), wT), [n, oh, ow, kh * kw * ci]) as tf.Tensor4D;
    let acc: tf.Tensor4D | null = null;
    for (let a = 0; a < kh; a++) {
      for (let b = 0; b < kw; b++) {
        let p: tf.Tensor4D = tf.slice(cols, [0, 0, 0, (a * kw + b) * ci], [n, oh, ow, ci]);
        if (s > 1) {
          p = tf.slice(
            tf.reshape(
              tf.pad(tf.reshape(p, [n, oh, 1, ow, 1, ci]), [[0, 0], [0, 0], [0, s - 1], [0, 0], [0, s - 1], [0, 0]]),
              [n, oh * s, ow * s, ci],
            ),
            [0, 0, 0, 0],
            [n, (oh - 1) * s + 1, (ow - 1) * s + 1, ci],
          ) as tf.Tensor4D;
        }
        p = tf.pad(p, [[0, 0], [a, kh - 1 - a], [b, kw - 1 - b], [0, 0]]);
        acc = acc ? (tf.add(acc, p) as tf.Tensor4D) : p;
      }
    }
    const hp = (oh - 1) * s + kh;
    const wp = (ow - 1) * s + kw;
    const hh = Math.min(c.inHeight, hp - c.padInfo.top);
    const ww = Math.min(c.inWidth, wp - c.padInfo.left);
    let out = tf.slice(acc!, [0, c.padInfo.top, c.padInfo.left, 0], [n, hh, ww, ci]);
    if (hh < c.inHeight || ww < c.inWidth) out = tf.pad(out, [[0, 0], [0, c.inHeight - hh], [0, c.inWidth - ww], [0, 0]]);
    return out;
  });
}

/** dW by the textbook im2col: pad, one strided slice per tap, concat, transposeA matMul. */
function bpFilterSlices(x: tf.Tensor4D, dy: tf.Tensor4D, fs: [number, number, number, number], s: number): tf.Tensor4D {
  return tf.tidy(() => {
    const c = tf.backend_util.computeConv2DInfo(x.shape, fs, s, 1, 'same', undefined, false, 'channelsLast');
    const [n, , , ci] = x.shape;
    const xp = tf.pad(x, [[0, 0], [c.padInfo.top, c.padInfo.bottom], [c.padInfo.left, c.padInfo.right], [0, 0]]);
    const parts: tf.Tensor[] = [];
    for (let a = 0; a < fs[0]; a++) {
      for (let b = 0; b < fs[1]; b++) {
        parts.push(
          tf.stridedSlice(xp, [0, a, b, 0], [n, a + (c.outHeight - 1) * s + 1, b + (c.outWidth - 1) * s + 1, ci], [1, s, s, 1]),
        );
      }
    }
    const p = n * c.outHeight * c.outWidth;
    const cols = tf.reshape(tf.concat(parts, 3), [p, fs[0] * fs[1] * ci]);
    return tf.reshape(tf.matMul(cols, tf.reshape(dy, [p, fs[3]]), true, false), fs);
  });
}

const bpInput = (dy: tf.Tensor4D, w: tf.Tensor4D, xShape: [number, number, number, number], s: number) =>
  tf.conv2dTranspose(dy, w, xShape, s, 'same');
const bpFilter = (x: tf.Tensor4D, dy: tf.Tensor4D, fs: [number, number, number, number], s: number) =>
  tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, {
    strides: s,
    pad: 'same',
    dataFormat: 'NHWC',
    filterShape: fs,
  } as unknown as tf.NamedAttrMap) as tf.Tensor4D;

function withBuiltinBpInput<R>(f: () => R): R {
  const builtin = builtinConv2DBackpropInputWasm();
  if (!builtin) throw new Error('the wasm built-in Conv2DBackpropInput was not found');
  tf.unregisterKernel('Conv2DBackpropInput', 'wasm');
  tf.registerKernel(builtin);
  // Our registration ran before the wasm backend started, so the built-in's
  // setup (binding its C function) never ran; run it now.
  builtin.setupFunc?.(tf.backend());
  try {
    return f();
  } finally {
    registerConv2DBackpropInputWasm();
  }
}

describe.skipIf(!process.env.HEMLOCK_BENCH)('conv2d backprop timing, ConvNet-S at batch 128', () => {
  it('times every variant on wasm and the cpu backend', async () => {
    await initBackend('wasm');
    const rows: Record<string, Record<string, string>> = {};
    const put = (row: string, layer: string, ms: number) => {
      (rows[row] ??= {})[layer] = ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${ms.toFixed(1)} ms`;
    };
    const reps = Number(process.env.HEMLOCK_BENCH_REPS ?? 5);
    for (const L of LAYERS) {
      await tf.setBackend('wasm');
      const x = tf.randomNormal(L.x, 0, 1, 'float32', 1) as tf.Tensor4D;
      const w = tf.randomNormal([3, 3, L.x[3], L.cout], 0, 1, 'float32', 2) as tf.Tensor4D;
      const y = tf.conv2d(x, w, L.s, 'same');
      const dy = tf.randomNormal(y.shape, 0, 1, 'float32', 3) as tf.Tensor4D;
      const ref = bpInput(dy, w, L.x, L.s);
      // Everything timed must agree with our kernels first.
      const refF = bpFilter(x, dy, w.shape, L.s);
      const rel = (a: tf.Tensor, b: tf.Tensor) =>
        tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] / tf.max(tf.abs(b)).dataSync()[0]);
      for (const t of [
        withBuiltinBpInput(() => bpInput(dy, w, L.x, L.s)),
        bpInputDilated(dy, w, L.x, L.s),
        bpInputCol2im(dy, w, L.x, L.s),
      ]) {
        expect(rel(t, ref)).toBeLessThan(1e-4);
        t.dispose();
      }
      const slices = bpFilterSlices(x, dy, w.shape, L.s);
      expect(rel(slices, refF)).toBeLessThan(1e-4);
      slices.dispose();

      put('bpInput wasm built-in', L.name, withBuiltinBpInput(() => time(() => bpInput(dy, w, L.x, L.s), reps)));
      put('bpInput wasm hemlock (sub-pixel)', L.name, time(() => bpInput(dy, w, L.x, L.s), reps));
      put('bpInput wasm dilated+flipped conv', L.name, time(() => bpInputDilated(dy, w, L.x, L.s), reps));
      put('bpInput wasm matMul+col2im', L.name, time(() => bpInputCol2im(dy, w, L.x, L.s), reps));
      put('bpFilter wasm hemlock (depthwise im2col)', L.name, time(() => bpFilter(x, dy, w.shape, L.s), reps));
      put('bpFilter wasm stridedSlice im2col', L.name, time(() => bpFilterSlices(x, dy, w.shape, L.s), Math.min(reps, 2)));
      put('conv2d fwd wasm', L.name, time(() => tf.conv2d(x, w, L.s, 'same'), reps));
      const xv = x.dataSync().slice();
      const wv = w.dataSync().slice();
      const dyv = dy.dataSync().slice();
      tf.dispose([x, w, y, dy, ref, refF]);

      await tf.setBackend('cpu');
      const xc = tf.tensor4d(xv, L.x);
      const wc = tf.tensor4d(wv, [3, 3, L.x[3], L.cout]);
      const dyc = tf.tensor4d(dyv, dy.shape);
      const slow = L.x[3] > 1; // the cpu filter gradient takes ~1 min per call on L2/L3
      put('bpInput cpu', L.name, time(() => bpInput(dyc, wc, L.x, L.s), slow ? 1 : 2, !slow));
      put('bpFilter cpu', L.name, time(() => bpFilter(xc, dyc, wc.shape, L.s), 1, false));
      put('conv2d fwd cpu', L.name, time(() => tf.conv2d(xc, wc, L.s, 'same'), slow ? 1 : 2, !slow));
      tf.dispose([xc, wc, dyc]);
      await tf.setBackend('wasm');
    }
    const lines = Object.entries(rows).map(
      ([row, v]) => `${row.padEnd(42)} ${LAYERS.map((L) => (v[L.name] ?? '-').padStart(10)).join(' ')}`,
    );
    console.log(['variant'.padEnd(42) + ' ' + LAYERS.map((L) => L.name.padStart(10)).join(' '), ...lines].join('\n'));
  }, 1_800_000);
});
