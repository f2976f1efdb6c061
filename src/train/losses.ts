import { tf, type Tensor } from '../engine/tf.js';

/**
 * Mean softmax cross-entropy of integer labels, built from basic ops
 * (logSumExp, oneHot, mul, sum, mean) rather than tfjs's customGrad
 * softmaxCrossEntropy, so that its gradient is itself differentiable: gradient
 * matching differentiates ∇θ CE with respect to the input.
 */
export function crossEntropy(logits: Tensor, labels: Tensor, reduction: 'mean' | 'sum' | 'none' = 'mean'): Tensor {
  return tf.tidy(() => {
    const numClasses = logits.shape[logits.rank - 1]!;
    const onehot = tf.oneHot(tf.cast(labels, 'int32') as tf.Tensor1D, numClasses);
    const perSample = tf.sub(tf.logSumExp(logits, -1), tf.sum(tf.mul(onehot, logits), -1));
    if (reduction === 'none') return perSample;
    return reduction === 'sum' ? tf.sum(perSample) : tf.mean(perSample);
  });
}
