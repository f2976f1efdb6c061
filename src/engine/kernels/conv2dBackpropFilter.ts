/**
 * `Conv2DBackpropFilter` for the tfjs wasm backend, which does not ship one (so
 * without this, training any conv net on wasm fails with "Cannot find
 * registered kernel 'Conv2DBackpropFilter' for backend 'wasm'").
 *
 *   dW[kh,kw,c,co] = sum_{n,oh,ow} xpad[n, oh*sh + kh, ow*sw + kw, c] * dy[n,oh,ow,co]
 *
 * Method: im2col, then one matmul.
 *   1. cols = depthwiseConv2d(x, E, strides) with the one-hot filter
 *      E[kh,kw,c,m] = (m == kh*KW + kw): output channel c*KK + m of pixel p is
 *      exactly the input value under tap m. This is im2col in one XNNPACK call,
 *      laid out [P, Cin, KH*KW] (P = N*OH*OW).
 *   2. m = transpose(cols) [Cin*KK, P] x dy [P, Cout], then permute the (small)
 *      result from [Cin, KH, KW, Cout] to [KH, KW, Cin, Cout].
 *
 * Why not the "pad + one strided slice per (kh,kw) + concat" im2col: on the wasm
 * backend Slice/StridedSlice are JavaScript loops that copy one C-vector at a
 * time, and a stride-2 StridedSlice of a [128,28,28,32] tensor took 74-85 ms; the
 * nine of them made that variant 632-975 ms per call on ConvNet-S layers 2-3
 * against 52-72 ms for the depthwise version (104 vs 5 ms on layer 1). Also
 * `matMul(cols, dy, true)` (transposeA) is ~5x slower on wasm than an explicit
 * transpose followed by a plain matMul (346 ms vs 34 + 67 ms for
 * [25088,288]^T x [25088,64]).
 *
 * Measured at batch 128 on ConvNet-S layers 1/2/3 (wasm SIMD, 1 thread): 5.2 /
 * 71.9 / 52.3 ms per call, against 3.3 / 58.5 / 57.1 s for the cpu backend's
 * kernel. Full table and method: top of conv2dBackpropInput.ts and
 * conv2dBackprop.bench.test.ts.
 *
 * Numerics: the one-hot im2col multiplies the other taps by exact zeros, so an
 * Inf in x turns into NaN in more entries of dW than a direct sum would give.
 * Finite inputs give the plain float32 sum (checked against the cpu backend in
 * conv2dBackpropFilter.test.ts).
 */
import { tf } from '../tf.js';
import { assertNHWC, explicitPads, pair, runAsKernel, sliceHW, window1d } from './kernelUtil.js';
import { nativeConv2DBackpropFilter } from '../native/kernels.js';

export const CONV2D_BACKPROP_FILTER = 'Conv2DBackpropFilter';

interface Attrs {
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat?: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  filterShape: [number, number, number, number];
}

/** The one-hot filter E[kh,kw,c,m] = (m == kh*kw_ + kw), shape [KH,KW,C,KH*KW]. */
function oneHotTaps(kh: number, kw: number, c: number): tf.Tensor4D {
  const kk = kh * kw;
  const values = new Float32Array(kk * c * kk);
  for (let t = 0; t < kk; t++) {
    for (let ch = 0; ch < c; ch++) values[(t * c + ch) * kk + t] = 1;
  }
  return tf.tensor4d(values, [kh, kw, c, kk]);
}

/** dW for NHWC x [N,H,W,Cin] and dy [N,OH,OW,Cout]; public tf ops only. */
export function conv2dBackpropFilterOps(x: tf.Tensor4D, dy: tf.Tensor4D, attrs: Attrs): tf.Tensor4D {
  const { strides, pad, dimRoundingMode, filterShape } = attrs;
  const info = tf.backend_util.computeConv2DInfo(
    x.shape,
    filterShape,
    strides,
    1,
    pad,
    dimRoundingMode,
    false,
    'channelsLast',
  );
  const [n, h, w, c] = x.shape;
  const [kh, kw, cin, cout] = filterShape;
  const [sh, sw] = pair(strides);
  const [, oh, ow, dyC] = dy.shape;
  if (cin !== c || dyC !== cout || dy.shape[0] !== n || oh !== info.outHeight || ow !== info.outWidth) {
    throw new Error(
      `Conv2DBackpropFilter: x ${JSON.stringify(x.shape)}, dy ${JSON.stringify(dy.shape)} and filterShape ` +
        `${JSON.stringify(filterShape)} do not fit (expected dy [${n},${info.outHeight},${info.outWidth},${cout}])`,
    );
  }
  const p = n * oh * ow;
  if (p === 0 || c === 0 || cout === 0) return tf.zeros(filterShape);
  // Padded rows read by output row o and tap k: o*sh + k - top, for o < OH, k < KH.
  // Take exactly that window of x, zero outside, so the valid depthwise conv has
  // OH x OW outputs whatever the rounding mode.
  const wh = window1d(-info.padInfo.top, (oh - 1) * sh + kh - info.padInfo.top, h);
  const ww = window1d(-info.padInfo.left, (ow - 1) * sw + kw - info.padInfo.left, w);
  if (wh === null || ww === null) return tf.zeros(filterShape); // every tap reads padding
  const kk = kh * kw;
  const e = oneHotTaps(kh, kw, c);
  const cols = tf.depthwiseConv2d(sliceHW(x, wh, ww), e, [sh, sw], explicitPads(wh, ww)); // [N,OH,OW,C*KK]
  const colsT = tf.transpose(tf.reshape(cols, [p, c * kk])); // [C*KK, P]
  const m = tf.matMul(colsT, tf.reshape(dy, [p, cout])); // [C*KK, Cout], rows (c, kh, kw)
  return tf.transpose(tf.reshape(m, [c, kh, kw, cout]), [1, 2, 0, 3]);
}

export const conv2DBackpropFilterWasm: tf.KernelFunc = (args) => {
  // Native addon first (src/engine/native/); this file's method is the fallback.
  const native = nativeConv2DBackpropFilter(args);
  if (native) return native;
  const { inputs, backend, attrs } = args;
  const { x, dy } = inputs;
  if (x == null || dy == null) throw new Error('Conv2DBackpropFilter: inputs x and dy are required');
  const a = attrs as unknown as Attrs;
  assertNHWC(CONV2D_BACKPROP_FILTER, a.dataFormat);
  if (x.shape.length !== 4 || dy.shape.length !== 4) {
    throw new Error(`Conv2DBackpropFilter: x and dy must be rank 4, got ${x.shape.length} and ${dy.shape.length}`);
  }
  return runAsKernel(backend as tf.KernelBackend, [x, dy], (xt, dyt) =>
    conv2dBackpropFilterOps(xt as tf.Tensor4D, dyt as tf.Tensor4D, a),
  );
};

export const conv2DBackpropFilterWasmConfig: tf.KernelConfig = {
  kernelName: CONV2D_BACKPROP_FILTER,
  backendName: 'wasm',
  kernelFunc: conv2DBackpropFilterWasm,
};

/** Registers the kernel on 'wasm' unless it already is (idempotent). */
export function registerConv2DBackpropFilterWasm(): void {
  const existing = tf.getKernel(CONV2D_BACKPROP_FILTER, 'wasm');
  if (existing?.kernelFunc === conv2DBackpropFilterWasm) return;
  if (existing) tf.unregisterKernel(CONV2D_BACKPROP_FILTER, 'wasm');
  tf.registerKernel(conv2DBackpropFilterWasmConfig);
}
