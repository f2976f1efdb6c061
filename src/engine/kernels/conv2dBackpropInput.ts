/**
 * `Conv2DBackpropInput` (dx of a conv2d, a.k.a. conv2dTranspose) for the tfjs
 * wasm backend, replacing the backend's built-in kernel, which is a naive C++
 * loop.
 *
 * MEASURED (this machine: Node 20.20, tfjs 4.22, wasm SIMD, 1 thread, 2 vCPUs;
 * time per call including reading the result; batch 128, 3x3 kernels, 'same'
 * padding; ConvNet-S shapes. wasm rows: mean of 5 calls after a warm-up call
 * (stridedSlice row: 2 calls). cpu rows: L1 mean of 2 after a warm-up, L2/L3
 * one cold call; cpu Conv2DBackpropFilter one cold call everywhere. Every
 * variant was checked against this file's kernels (max rel. error < 1e-4)
 * before timing. Re-run with
 * HEMLOCK_BENCH=1 npx vitest run src/engine/kernels/conv2dBackprop.bench.test.ts):
 *
 *                                      L1 [128,28,28,1]  L2 [128,28,28,32]  L3 [128,14,14,64]
 *                                      ->32, s1          ->64, s2           ->128, s2
 *   Conv2DBackpropInput (dx)
 *     wasm built-in (naive C++ loop)        18.5 ms          306.1 ms           247.9 ms
 *     wasm, this file (sub-pixel convs)     14.5 ms           51.9 ms            42.7 ms
 *     wasm, dilated dy + flipped conv2d     29.7 ms          115.9 ms           107.6 ms
 *     wasm, matMul + col2im (pads/adds)     72.9 ms          408.2 ms           199.1 ms
 *     cpu backend                           58.7 ms            1.0 s              1.2 s
 *   Conv2DBackpropFilter (dW)
 *     wasm, conv2dBackpropFilter.ts          5.2 ms           71.9 ms            52.3 ms
 *     wasm, pad + stridedSlice im2col      103.8 ms          974.7 ms           632.0 ms
 *     cpu backend                            3.3 s            58.5 s             57.1 s
 *   Conv2D forward, for scale
 *     wasm (XNNPACK)                        11.4 ms           28.6 ms            28.9 ms
 *     cpu backend                           85.1 ms            1.2 s              1.3 s
 *
 * (Another process was using the second core during the run, so treat
 * differences under ~15% as noise. A second run of the bench gave, for L1/L2/L3:
 * built-in 18.6/298.7/254.6 ms, this file 14.4/53.1/44.0 ms, dilated
 * 14.2/119.5/108.0 ms (at stride 1 it is the same computation as this file),
 * col2im 70.6/416.3/197.6 ms, dW here 6.3/72.3/54.0 ms, dW on cpu
 * 3.4/61.9/58.6 s. An earlier prototype run: built-in 20/303/288 ms,
 * sub-pixel 16/57/75 ms.)
 *
 * Decision: this file's kernel is faster than the built-in on all three layers,
 * so registerConv2DBackpropInputWasm() replaces the built-in on 'wasm'.
 *
 * Method ("sub-pixel" decomposition, every piece a forward conv2d, which the
 * wasm backend runs on XNNPACK). Along one spatial axis, with stride s, top pad
 * p, kernel K, output (dy) length O and input (dx) length I:
 *
 *   dx[i] = sum_{o,k : o*s + k = i + p} dy[o] * W[k]
 *
 * Write j = i + p = s*q + r (0 <= r < s). Then k = r + s*t and o = q - t, so the
 * rows of phase r are a stride-1 correlation of dy with the sub-kernel
 * W[r], W[r+s], W[r+2s], ... flipped:
 *
 *   G_r[q] = sum_{u < T_r} dy[q - (T_r - 1) + u] * W[r + s*(T_r - 1 - u)],
 *   T_r = ceil((K - r) / s)   (0 when r >= K: that phase is all zeros)
 *
 * In 2-D there are sh*sw phases; each is one conv2d of (a zero-padded window
 * of) dy with the flipped sub-kernel, filter transposed to [.., Cout, Cin]. The
 * phases are interleaved (stack + reshape) and the padding cropped. The total
 * work equals one forward conv; no multiplications by inserted zeros.
 */
import { tf } from '../tf.js';
import { assertNHWC, explicitPads, pair, runAsKernel, sliceHW, window1d } from './kernelUtil.js';
import { nativeConv2DBackpropInput } from '../native/kernels.js';

export const CONV2D_BACKPROP_INPUT = 'Conv2DBackpropInput';

interface Attrs {
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat?: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  inputShape: [number, number, number, number];
}

interface AxisPlan {
  /** First phase row q0 = floor(p / s) and one past the last, Q = ceil((p + I) / s). */
  q0: number;
  q1: number;
  /** Rows to drop from the interleaved result: p - s*q0. */
  crop: number;
}

function axisPlan(p: number, s: number, inLen: number): AxisPlan {
  const q0 = Math.floor(p / s);
  const q1 = Math.ceil((p + inLen) / s);
  return { q0, q1, crop: p - s * q0 };
}

/** dx for NHWC dy [N,OH,OW,Cout] and filter [KH,KW,Cin,Cout]; public tf ops only. */
export function conv2dBackpropInputOps(dy: tf.Tensor4D, filter: tf.Tensor4D, attrs: Attrs): tf.Tensor4D {
  const { strides, pad, dimRoundingMode, inputShape } = attrs;
  const info = tf.backend_util.computeConv2DInfo(
    inputShape,
    filter.shape,
    strides,
    1,
    pad,
    dimRoundingMode,
    false,
    'channelsLast',
  );
  const [n, h, w, c] = inputShape;
  const [kh, kw, cin, cout] = filter.shape;
  const [sh, sw] = pair(strides);
  const [dyN, oh, ow, dyC] = dy.shape;
  if (cin !== c || dyC !== cout || dyN !== n || oh !== info.outHeight || ow !== info.outWidth) {
    throw new Error(
      `Conv2DBackpropInput: dy ${JSON.stringify(dy.shape)}, filter ${JSON.stringify(filter.shape)} and inputShape ` +
        `${JSON.stringify(inputShape)} do not fit (expected dy [${n},${info.outHeight},${info.outWidth},${cin === c ? cout : '?'}])`,
    );
  }
  if (n * h * w * c === 0) return tf.zeros(inputShape);
  const ph = axisPlan(info.padInfo.top, sh, h);
  const pw = axisPlan(info.padInfo.left, sw, w);
  const lh = ph.q1 - ph.q0;
  const lw = pw.q1 - pw.q0;
  const wt = sh === 1 && sw === 1 ? null : tf.transpose(filter, [0, 1, 3, 2]); // [KH,KW,Cout,Cin]

  const phase = (rh: number, rw: number): tf.Tensor4D => {
    const th = Math.max(0, Math.ceil((kh - rh) / sh));
    const tw = Math.max(0, Math.ceil((kw - rw) / sw));
    if (th === 0 || tw === 0) return tf.zeros([n, lh, lw, c]);
    // G[q] for q in [q0, q1) reads dy rows [q0 - (T-1), q1).
    const wh = window1d(ph.q0 - (th - 1), ph.q1, oh);
    const ww = window1d(pw.q0 - (tw - 1), pw.q1, ow);
    if (wh === null || ww === null) return tf.zeros([n, lh, lw, c]);
    let sub: tf.Tensor4D;
    if (wt === null) {
      sub = tf.transpose(filter, [0, 1, 3, 2]);
    } else {
      sub = tf.stridedSlice(wt, [rh, rw, 0, 0], [kh, kw, cout, c], [sh, sw, 1, 1]) as tf.Tensor4D;
    }
    sub = tf.reverse(sub, [0, 1]);
    return tf.conv2d(sliceHW(dy, wh, ww), sub, 1, explicitPads(wh, ww));
  };

  let full: tf.Tensor4D;
  if (sh === 1 && sw === 1) {
    full = phase(0, 0);
  } else {
    const rows: tf.Tensor4D[] = [];
    for (let rh = 0; rh < sh; rh++) {
      const row: tf.Tensor4D[] = [];
      for (let rw = 0; rw < sw; rw++) row.push(phase(rh, rw));
      rows.push(sw === 1 ? row[0] : tf.reshape(tf.stack(row, 3), [n, lh, lw * sw, c]));
    }
    full = sh === 1 ? rows[0] : tf.reshape(tf.stack(rows, 2), [n, lh * sh, lw * sw, c]);
  }
  if (ph.crop === 0 && pw.crop === 0 && full.shape[1] === h && full.shape[2] === w) return full;
  return tf.slice(full, [0, ph.crop, pw.crop, 0], [n, h, w, c]);
}

export const conv2DBackpropInputWasm: tf.KernelFunc = (args) => {
  // Native addon first (src/engine/native/); this file's method is the fallback.
  const native = nativeConv2DBackpropInput(args);
  if (native) return native;
  const { inputs, backend, attrs } = args;
  const { dy, filter } = inputs;
  if (dy == null || filter == null) throw new Error('Conv2DBackpropInput: inputs dy and filter are required');
  const a = attrs as unknown as Attrs;
  assertNHWC(CONV2D_BACKPROP_INPUT, a.dataFormat);
  if (dy.shape.length !== 4 || filter.shape.length !== 4) {
    throw new Error(`Conv2DBackpropInput: dy and filter must be rank 4, got ${dy.shape.length} and ${filter.shape.length}`);
  }
  return runAsKernel(backend as tf.KernelBackend, [dy, filter], (dyt, ft) =>
    conv2dBackpropInputOps(dyt as tf.Tensor4D, ft as tf.Tensor4D, a),
  );
};

export const conv2DBackpropInputWasmConfig: tf.KernelConfig = {
  kernelName: CONV2D_BACKPROP_INPUT,
  backendName: 'wasm',
  kernelFunc: conv2DBackpropInputWasm,
};

let builtin: tf.KernelConfig | undefined;

/** The wasm backend's own kernel, as it was before we replaced it (for benchmarks). */
export function builtinConv2DBackpropInputWasm(): tf.KernelConfig | undefined {
  if (builtin === undefined) {
    const k = tf.getKernel(CONV2D_BACKPROP_INPUT, 'wasm');
    if (k && k.kernelFunc !== conv2DBackpropInputWasm) builtin = k;
  }
  return builtin;
}

/**
 * Replaces the wasm backend's Conv2DBackpropInput with this file's kernel
 * (faster on every measured shape, see the table above). Idempotent.
 */
export function registerConv2DBackpropInputWasm(): void {
  const existing = tf.getKernel(CONV2D_BACKPROP_INPUT, 'wasm');
  if (existing?.kernelFunc === conv2DBackpropInputWasm) return;
  if (existing) {
    builtin = existing;
    tf.unregisterKernel(CONV2D_BACKPROP_INPUT, 'wasm');
  }
  tf.registerKernel(conv2DBackpropInputWasmConfig);
}
