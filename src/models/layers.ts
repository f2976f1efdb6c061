import { tf, type Tensor, type Tensor4D, type Variable } from '../engine/tf.js';
import { ParamBuilder, param, type ApplyContext } from './module.js';

/**
 * Functional building blocks shared by the architectures. Each `make*` adds
 * its parameters to a ParamBuilder and returns an `apply` closure. They use
 * only ops whose gradients are themselves differentiable, so second-order
 * attacks (gradient matching) can differentiate through them.
 */

interface Owner {
  params: Record<string, Variable>;
}

export function makeConv(
  b: ParamBuilder,
  owner: Owner,
  name: string,
  opts: { inChannels: number; outChannels: number; kernel: number; stride: number; bias?: boolean },
) {
  const { inChannels, outChannels, kernel, stride } = opts;
  const fanIn = inChannels * kernel * kernel;
  b.heUniform(`${name}/kernel`, [kernel, kernel, inChannels, outChannels], fanIn);
  const withBias = opts.bias ?? true;
  if (withBias) b.constant(`${name}/bias`, [outChannels], 0);
  return (x: Tensor, ctx?: ApplyContext): Tensor4D => {
    const w = param(owner, `${name}/kernel`, ctx) as Tensor4D;
    // 'same' padding with stride 2 on even sizes pads (0 top-left, 1 bottom-right)
    // in tfjs/TF, whereas PyTorch's padding=1 pads 1 on every side; the output
    // sizes agree (28→14→7) and the FLOPs are the same.
    let y = tf.conv2d(x as Tensor4D, w, stride, 'same');
    if (withBias) y = tf.add(y, param(owner, `${name}/bias`, ctx));
    return y;
  };
}

export function makeDense(b: ParamBuilder, owner: Owner, name: string, inDim: number, outDim: number) {
  b.heUniform(`${name}/kernel`, [inDim, outDim], inDim);
  b.constant(`${name}/bias`, [outDim], 0);
  return (x: Tensor, ctx?: ApplyContext): Tensor =>
    tf.add(tf.matMul(x as tf.Tensor2D, param(owner, `${name}/kernel`, ctx) as tf.Tensor2D), param(owner, `${name}/bias`, ctx));
}

/**
 * Batch normalisation over N,H,W (NHWC) or N (2-D). In training it normalises
 * with batch statistics and reports running-average updates (momentum 0.1,
 * as PyTorch) through ctx.stateUpdates; in evaluation it uses the running
 * statistics.
 */
export function makeBatchNorm(
  b: ParamBuilder,
  owner: Owner & { buffers: Record<string, Variable> },
  name: string,
  channels: number,
  momentum = 0.1,
  epsilon = 1e-5,
) {
  b.constant(`${name}/gamma`, [channels], 1);
  b.constant(`${name}/beta`, [channels], 0);
  b.constant(`${name}/movingMean`, [channels], 0, false);
  b.constant(`${name}/movingVariance`, [channels], 1, false);
  return (x: Tensor, ctx?: ApplyContext): Tensor => {
    const gamma = param(owner, `${name}/gamma`, ctx);
    const beta = param(owner, `${name}/beta`, ctx);
    const runningMean = owner.buffers[`${name}/movingMean`]!;
    const runningVar = owner.buffers[`${name}/movingVariance`]!;
    if (ctx?.training) {
      const axes = x.rank === 4 ? [0, 1, 2] : [0];
      const { mean, variance } = tf.moments(x, axes);
      if (ctx.stateUpdates) {
        const n = x.size / channels;
        const unbiased = tf.mul(variance, n / Math.max(1, n - 1));
        ctx.stateUpdates.push({
          variable: runningMean,
          value: tf.keep(tf.add(tf.mul(runningMean, 1 - momentum), tf.mul(mean, momentum))),
        });
        ctx.stateUpdates.push({
          variable: runningVar,
          value: tf.keep(tf.add(tf.mul(runningVar, 1 - momentum), tf.mul(unbiased, momentum))),
        });
      }
      return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, epsilon))), gamma), beta);
    }
    return tf.add(tf.mul(tf.div(tf.sub(x, runningMean), tf.sqrt(tf.add(runningVar, epsilon))), gamma), beta);
  };
}

/** Global average pooling NHWC → NC. */
export function globalAvgPool(x: Tensor): Tensor {
  return tf.mean(x, [1, 2]);
}
