import { tf, type Tensor, type Variable } from '../engine/tf.js';

export type OptimizerConfig =
  | { kind: 'sgd'; lr: number; momentum: number; nesterov: boolean; weightDecay: number }
  | { kind: 'adam'; lr: number; beta1: number; beta2: number; epsilon: number; weightDecay: number };

/**
 * tfjs's optimizers with two things they lack: a learning rate that a schedule
 * can change every step, and weight decay. Weight decay is coupled L2
 * (g ← g + λ·θ before the update), as PyTorch's SGD and Adam `weight_decay`.
 */
export class Optimizer {
  private readonly inner: tf.Optimizer;

  constructor(readonly config: OptimizerConfig) {
    if (config.kind === 'sgd') {
      this.inner =
        config.momentum > 0
          ? tf.train.momentum(config.lr, config.momentum, config.nesterov)
          : tf.train.sgd(config.lr);
    } else {
      this.inner = tf.train.adam(config.lr, config.beta1, config.beta2, config.epsilon);
    }
  }

  setLearningRate(lr: number): void {
    const o = this.inner as unknown as { setLearningRate?: (lr: number) => void; learningRate: number };
    if (o.setLearningRate) o.setLearningRate(lr);
    // AdamOptimizer reads this.learningRate on every update.
    else o.learningRate = lr;
  }

  /** Applies one update; grads are keyed by variable name as tf.variableGrads returns them. */
  apply(grads: Record<string, Tensor>, variables: Variable[]): void {
    const wd = this.config.weightDecay;
    if (wd > 0) {
      tf.tidy(() => {
        const withDecay: Record<string, Tensor> = {};
        for (const v of variables) {
          const g = grads[v.name];
          if (g) withDecay[v.name] = tf.add(g, tf.mul(v, wd));
        }
        this.inner.applyGradients(withDecay);
      });
    } else {
      this.inner.applyGradients(grads as tf.NamedTensorMap);
    }
  }

  dispose(): void {
    this.inner.dispose();
    // tfjs's MomentumOptimizer.dispose frees its momentum scalar and slots but
    // not the learning-rate scalar `c` its SGD base keeps: one leaked tensor
    // per momentum optimizer unless we free it.
    const c = (this.inner as unknown as { c?: Tensor }).c;
    if (c && !c.isDisposed) c.dispose();
  }

  /**
   * The optimizer's state (moments), for checkpoints. For Adam this includes
   * the running products β₁ᵗ and β₂ᵗ: tfjs's own setWeights recomputes them as
   * pow(β, t + 1), which differs from the running float32 product in the last
   * bits for most t, so a resumed run would drift from an uninterrupted one.
   * They are live variables (like the moments): callers must not dispose them.
   */
  async getWeights(): Promise<{ name: string; tensor: Tensor }[]> {
    const weights = await this.inner.getWeights();
    const acc = this.adamAccumulators();
    if (acc) weights.push({ name: ADAM_ACC_BETA1, tensor: acc.accBeta1 }, { name: ADAM_ACC_BETA2, tensor: acc.accBeta2 });
    return weights;
  }

  /**
   * Restores what getWeights saved (into a fresh optimizer); checkpoints
   * without Adam's running products fall back to tfjs's pow(β, t + 1). Takes
   * ownership of the tensors: tfjs makes its state variables from them (sharing
   * their data), so they are disposed here.
   */
  async setWeights(w: { name: string; tensor: Tensor }[]): Promise<void> {
    const saved = new Map(w.filter((x) => x.name === ADAM_ACC_BETA1 || x.name === ADAM_ACC_BETA2).map((x) => [x.name, x.tensor]));
    await this.inner.setWeights(w.filter((x) => !saved.has(x.name)));
    const acc = this.adamAccumulators();
    const b1 = saved.get(ADAM_ACC_BETA1);
    const b2 = saved.get(ADAM_ACC_BETA2);
    if (acc && b1 && b2) {
      tf.tidy(() => {
        acc.accBeta1.assign(tf.reshape(b1, []));
        acc.accBeta2.assign(tf.reshape(b2, []));
      });
    }
    tf.dispose(w.map((x) => x.tensor));
  }

  private adamAccumulators(): { accBeta1: Variable; accBeta2: Variable } | null {
    if (this.config.kind !== 'adam') return null;
    const o = this.inner as unknown as { accBeta1?: Variable; accBeta2?: Variable };
    if (!o.accBeta1 || !o.accBeta2) throw new Error('tfjs AdamOptimizer no longer has accBeta1/accBeta2: update Optimizer.getWeights');
    return { accBeta1: o.accBeta1, accBeta2: o.accBeta2 };
  }
}

/** Checkpoint names of Adam's running products β₁ᵗ, β₂ᵗ (not tfjs weight names, so never confused with a moment). */
const ADAM_ACC_BETA1 = 'hemlock:adam/accBeta1';
const ADAM_ACC_BETA2 = 'hemlock:adam/accBeta2';
