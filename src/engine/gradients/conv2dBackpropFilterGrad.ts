/**
 * Gradient of `Conv2DBackpropFilter`, which tfjs does not register. Without it,
 * anything that differentiates a conv layer's weight gradient (second-order
 * differentiation, e.g. Witches' Brew gradient matching: the gradient of
 * 1 - cos(grad_theta L(target), grad_theta L(x + delta)) with respect to delta)
 * fails with "gradient function not found for Conv2DBackpropFilter".
 *
 * Derivation (NHWC, one spatial axis written out; the other is the same). The
 * kernel computes
 *
 *   dW[k,c,co] = sum_{n,o} xpad[n, o*s + k, c] * dy[n, o, co]
 *
 * which is bilinear in (x, dy). For an upstream gradient G = ddW (shape of dW),
 * the scalar being differentiated is
 *
 *   L = sum_{k,c,co} G[k,c,co] dW[k,c,co]
 *     = sum_{n,o,k,c,co} G[k,c,co] * xpad[n, o*s + k, c] * dy[n, o, co].
 *
 *   dL/d dy[n,o,co] = sum_{k,c} xpad[n, o*s + k, c] * G[k,c,co]
 *                   = conv2d(x, G, strides, pad)[n,o,co]
 *   dL/d x[n,i,c]   = sum_{o,k,co : o*s + k - p = i} dy[n,o,co] * G[k,c,co]
 *                   = conv2DBackpropInput(x.shape, dy, G, strides, pad)[n,i,c]
 *
 * i.e. exactly the two ops of conv2d's own gradient with the filter replaced
 * by G. Both are recorded on the tape, so third order works too (their
 * gradients are registered: Conv2D by tfjs, Conv2DBackpropInput by tfjs).
 * Verified against central finite differences in conv2dBackpropFilterGrad.test.ts.
 */
import { tf } from '../tf.js';

export const conv2DBackpropFilterGradConfig: tf.GradConfig = {
  kernelName: 'Conv2DBackpropFilter',
  inputsToSave: ['x', 'dy'],
  gradFunc: (ddw, saved, attrs) => {
    const [x, dy] = saved as [tf.Tensor4D, tf.Tensor4D];
    const g = ddw as tf.Tensor4D;
    const { strides, pad, dataFormat, dimRoundingMode } = attrs as unknown as {
      strides: number | [number, number];
      pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
      dataFormat?: 'NHWC' | 'NCHW';
      dimRoundingMode?: 'floor' | 'round' | 'ceil';
    };
    const format = dataFormat ?? 'NHWC';
    return {
      x: () =>
        tf.engine().runKernel('Conv2DBackpropInput', { dy, filter: g }, {
          strides,
          pad,
          dataFormat: format,
          dimRoundingMode,
          inputShape: x.shape,
        } as unknown as tf.NamedAttrMap) as tf.Tensor4D,
      dy: () => tf.conv2d(x, g, strides, pad, format, 1, dimRoundingMode),
    };
  },
};

/** Registers the gradient unless one is already registered (idempotent). */
export function registerConv2DBackpropFilterGrad(): void {
  if (tf.getGradient(conv2DBackpropFilterGradConfig.kernelName) != null) return;
  tf.registerGradient(conv2DBackpropFilterGradConfig);
}
