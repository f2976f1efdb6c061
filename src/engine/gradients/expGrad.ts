/**
 * A replacement gradient for `Exp` that is correct under second-order
 * differentiation.
 *
 * tfjs registers Exp's gradient as dy * y with y = exp(x) saved from the
 * forward pass (`outputsToSave: [true]`). The engine saves a clone of y, and
 * the clone's tape node is pushed *before* the Exp node that produces y (it is
 * made inside Exp's kernel call). When the tape is later filtered for the path
 * from x, the clone is visited before y is known to depend on x, so the clone
 * counts as a constant: the gradient's own dependence on x through y is
 * silently dropped. Differentiating an Exp gradient therefore gives a wrong
 * answer (or "Cannot compute gradient ..." when no other path exists), e.g.
 * d/dx sum(c * grad(sum(exp))(x)) should be c * exp(x) and fails in tfjs 4.22.
 * Witches' Brew differentiates the parameter gradient of a cross-entropy, which
 * contains exp, so this matters on hemlock's second-order path.
 *
 * The fix: save the input x instead and recompute exp(x) inside the gradient,
 * where it is an ordinary op on the tape. Costs one extra exp per backward pass.
 *
 * Other tfjs gradients with `outputsToSave` have the same flaw at second order
 * (Sigmoid, Tanh, Softmax, LogSoftmax, Elu, Pow, MaxPool, LRN; Max/Min are
 * harmless because y only enters through a piecewise-constant mask). They are
 * not on hemlock's second-order path and are left alone.
 */
import { tf } from '../tf.js';

export const expGradConfig: tf.GradConfig = {
  kernelName: 'Exp',
  inputsToSave: ['x'],
  gradFunc: (dy, saved) => {
    const [x] = saved as [tf.Tensor];
    return { x: () => tf.mul(dy as tf.Tensor, tf.exp(tf.cast(x, 'float32'))) };
  },
};

/** Replaces tfjs's Exp gradient with this one (idempotent). */
export function registerExpGrad(): void {
  const current = tf.getGradient(expGradConfig.kernelName);
  if (current === expGradConfig) return;
  if (current != null) tf.unregisterGradient(expGradConfig.kernelName);
  tf.registerGradient(expGradConfig);
}
