/**
 * Gradient of `Equal`, which tfjs does not register. tfjs's own gradient of
 * `Max` (and `Min`) is dy * cast(equal(x, max(x))), so differentiating a
 * gradient that flows through a max — e.g. a numerically stable cross-entropy
 * `logits - max(logits)` inside Witches' Brew gradient matching — reaches an
 * Equal node and fails with "gradient function not found for Equal".
 *
 * Equal is piecewise constant in both inputs (its output is boolean), so its
 * derivative is zero wherever it exists; tfjs's gradient of `Step` makes the
 * same choice. Zeros keep the shapes of the inputs (broadcasting included).
 */
import { tf } from '../tf.js';

export const equalGradConfig: tf.GradConfig = {
  kernelName: 'Equal',
  inputsToSave: ['a', 'b'],
  gradFunc: (_dy, saved) => {
    const [a, b] = saved as [tf.Tensor, tf.Tensor];
    return { a: () => tf.zeros(a.shape, 'float32'), b: () => tf.zeros(b.shape, 'float32') };
  },
};

/** Registers the gradient unless one is already registered (idempotent). */
export function registerEqualGrad(): void {
  if (tf.getGradient(equalGradConfig.kernelName) != null) return;
  tf.registerGradient(equalGradConfig);
}
