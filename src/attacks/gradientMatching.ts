import { tf, type Tensor, type Tensor1D, type Tensor4D } from '../engine/tf.js';
import { Rng } from '../engine/rng.js';
import type { Classifier } from '../models/classifier.js';
import { crossEntropy } from '../train/losses.js';
import { augment, isIdentity, type AugmentConfig } from '../train/augment.js';

/**
 * Gradient matching (Geiping et al., ICLR 2021, "Witches' Brew"; ALGORITHMS.md §4),
 * the reusable pieces:
 *
 *   g_t    = ∇θ CE(F(x_t), y_adv)                       (fixed, per brewing model)
 *   g_p(Δ) = ∇θ mean_i CE(F(aug(x_i + Δ_i)), y_i)
 *   B(Δ)   = 1 − ⟨g_t, g_p⟩ / (‖g_t‖ ‖g_p‖)             over ALL parameters concatenated
 *
 * B is differentiated with respect to Δ, which differentiates through ∇θ: the
 * parameters are passed to the model explicitly (ApplyContext.params) so that
 * tf.grads inside tf.grad records a second-order graph. Only twice-differentiable
 * ops are used (crossEntropy from train/losses.ts; never tf.losses.* / logSoftmax).
 *
 * Brewing models are used in evaluation mode by default (batch-norm with running
 * statistics), as the reference does with model.eval().
 */

/** ∇θ mean CE(model(x), y) for every parameter of the model, in `Object.keys(model.params)` order. */
export function parameterGradients(model: Classifier, x: Tensor, y: Tensor, training = false): Tensor[] {
  const names = Object.keys(model.params);
  const theta = names.map((k) => model.params[k]!);
  const loss = (...ps: Tensor[]) =>
    crossEntropy(model.apply(x, { training, params: Object.fromEntries(names.map((k, i) => [k, ps[i]!])) }), y) as tf.Scalar;
  return tf.grads(loss)(theta);
}

/** The fixed target gradient of one brewing model, and its norm. Dispose when done. */
export interface TargetGradient {
  model: Classifier;
  grads: Tensor[];
  norm: tf.Scalar;
  /** Parameter count (the length of the concatenated gradient). */
  size: number;
  /** Whether the model is applied in training mode (batch statistics); default false. */
  training: boolean;
  dispose(): void;
}

/** g_t = ∇θ CE(F(x_target), y_adv) for one brewing model. `target` is [1,H,W,C] (or a batch of targets). */
export function targetGradient(model: Classifier, target: Tensor4D, adversarialClass: number | number[], training = false): TargetGradient {
  const labels = Array.isArray(adversarialClass) ? adversarialClass : new Array<number>(target.shape[0]).fill(adversarialClass);
  const [grads, norm] = tf.tidy(() => {
    const y = tf.tensor1d(labels, 'int32');
    const g = parameterGradients(model, target, y, training);
    const n = tf.sqrt(tf.addN(g.map((t) => tf.sum(tf.square(t))))) as tf.Scalar;
    return [g, n] as const;
  });
  const size = grads.reduce((a, g) => a + g.size, 0);
  return {
    model,
    grads,
    norm,
    size,
    training,
    dispose: () => tf.dispose([...grads, norm]),
  };
}

/** B = 1 − cos(g_t, g_p) over all parameters concatenated. */
export function cosineMatchingLoss(target: TargetGradient, poisonGrads: Tensor[]): tf.Scalar {
  return tf.tidy(() => {
    if (poisonGrads.length !== target.grads.length) throw new Error(`gradient matching: ${poisonGrads.length} poison gradients for ${target.grads.length} target gradients`);
    const dot = tf.addN(target.grads.map((g, i) => tf.sum(tf.mul(g, poisonGrads[i]!))));
    const pNorm = tf.sqrt(tf.addN(poisonGrads.map((g) => tf.sum(tf.square(g)))));
    return tf.sub(1, tf.div(dot, tf.mul(target.norm, pNorm))) as tf.Scalar;
  });
}

/** The matching loss of one model at the (already perturbed) poison batch x. */
export function matchingLoss(target: TargetGradient, x: Tensor4D, y: Tensor1D, augmentation?: { config: AugmentConfig; rng: Rng }): tf.Scalar {
  return tf.tidy(() => {
    const xa = augmentation && !isIdentity(augmentation.config) ? augment(x, augmentation.config, augmentation.rng) : x;
    return cosineMatchingLoss(target, parameterGradients(target.model, xa, y, target.training));
  });
}

export interface MatchingStepResult {
  /** Mean matching loss over the ensemble, at Δ before the update. */
  loss: number;
  /** ∂(Σ_k B_k)/∂Δ for this batch (the reference sums the ensemble's backward passes). Caller disposes. */
  grad: Tensor4D;
}

/**
 * One gradient-matching evaluation for a poison batch: the loss at x + Δ and
 * its gradient with respect to Δ, summed over the ensemble. Every model sees
 * the same random augmentation of the batch (as in the reference, where the
 * batch is augmented once before the ensemble's closures run).
 */
export function matchingStep(
  targets: TargetGradient[],
  x: Tensor4D,
  delta: Tensor4D,
  y: Tensor1D,
  augmentation?: { config: AugmentConfig; rng: Rng },
): MatchingStepResult {
  const augSeed = augmentation ? augmentation.rng.seedInt() : 0;
  let lossSum = 0;
  let grad: Tensor4D | null = null;
  for (const t of targets) {
    const aug = augmentation ? { config: augmentation.config, rng: new Rng(`augment/${augSeed}`) } : undefined;
    const { value, grads } = tf.tidy(() => {
      const f = (d: Tensor) => matchingLoss(t, tf.add(x, d) as Tensor4D, y, aug);
      const r = tf.valueAndGrad(f)(delta);
      return { value: r.value, grads: r.grad as Tensor4D };
    });
    lossSum += value.dataSync()[0]!;
    value.dispose();
    if (grad === null) grad = grads;
    else {
      const sum: Tensor4D = tf.add(grad, grads);
      tf.dispose([grad, grads]);
      grad = sum;
    }
  }
  if (!grad) throw new Error('gradient matching: no brewing models');
  return { loss: lossSum / targets.length, grad };
}

/**
 * Adam applied to the sign of the gradient ("signAdam" in the reference):
 * PyTorch's Adam (β = 0.9, 0.999; ε = 1e-8; bias-corrected), state kept in
 * tensors. `step` returns the updated parameter; the caller disposes the old one.
 */
export class SignAdam {
  private m: Tensor | null = null;
  private v: Tensor | null = null;
  private t = 0;

  constructor(readonly beta1 = 0.9, readonly beta2 = 0.999, readonly eps = 1e-8) {}

  /**
   * p − lr · m̂/(√v̂ + ε) with g ← sign(grad). `lr` may be a per-channel tensor
   * broadcast over p. The returned tensor belongs to the caller (and to the
   * caller's tidy scope, if any); the moments are kept by the optimizer.
   */
  step(p: Tensor, grad: Tensor, lr: number | Tensor): Tensor {
    this.t++;
    const { beta1, beta2, eps, t } = this;
    const [m, v, out] = tf.tidy(() => {
      const g = tf.sign(grad);
      const m = this.m ? tf.add(tf.mul(this.m, beta1), tf.mul(g, 1 - beta1)) : tf.mul(g, 1 - beta1);
      const v = this.v ? tf.add(tf.mul(this.v, beta2), tf.mul(tf.square(g), 1 - beta2)) : tf.mul(tf.square(g), 1 - beta2);
      const mHat = tf.div(m, 1 - beta1 ** t);
      const vHat = tf.div(v, 1 - beta2 ** t);
      const update = tf.mul(tf.div(mHat, tf.add(tf.sqrt(vHat), eps)), lr);
      return [m, v, tf.sub(p, update)];
    });
    // The moments outlive any tidy scope the caller may have opened.
    tf.keep(m);
    tf.keep(v);
    tf.dispose([this.m, this.v].filter((x): x is Tensor => x !== null));
    this.m = m;
    this.v = v;
    return out;
  }

  get steps(): number {
    return this.t;
  }

  dispose(): void {
    tf.dispose([this.m, this.v].filter((x): x is Tensor => x !== null));
    this.m = null;
    this.v = null;
  }
}

/**
 * Projection after every step: first onto the ℓ∞ ball of radius ε, then onto
 * the image box, i.e. Δ ∈ [−x, 1 − x] so that x + Δ ∈ [0, 1].
 */
export function projectLinfBox(delta: Tensor, x: Tensor, epsilon: number): Tensor {
  return tf.tidy(() => {
    const ball = tf.clipByValue(delta, -epsilon, epsilon);
    return tf.minimum(tf.maximum(ball, tf.neg(x)), tf.sub(1, x));
  });
}

/**
 * The step-size schedule of the reference (MultiStepLR, ×γ at ⌊steps·f⌋ for
 * each fraction f; 250 steps with [3/8, 5/8, 7/8] gives milestones 93, 156, 218).
 */
export function stepLearningRate(base: number, step: number, steps: number, dropAt: number[], gamma: number): number {
  let lr = base;
  for (const f of dropAt) if (step >= Math.floor(steps * f)) lr *= gamma;
  return lr;
}
