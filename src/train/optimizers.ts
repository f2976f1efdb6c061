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
  }

  /** The optimizer's state (moments), for checkpoints. */
  async getWeights(): Promise<{ name: string; tensor: Tensor }[]> {
    return this.inner.getWeights();
  }

  async setWeights(w: { name: string; tensor: Tensor }[]): Promise<void> {
    await this.inner.setWeights(w);
  }
}
