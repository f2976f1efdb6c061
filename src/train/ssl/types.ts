import type { Tensor, Tensor4D, Variable } from '../../engine/tf.js';
import type { ApplyContext, Module } from '../../models/module.js';
import type { OptimizerConfig } from '../optimizers.js';
import type { Schedule } from '../schedules.js';
import type { SslAugmentConfig } from './sslAugment.js';

/** The self-supervised pre-training methods hemlock implements (one file each). */
export const SSL_METHODS = ['simclr', 'moco', 'byol', 'barlow'] as const;
export type SslMethodName = (typeof SSL_METHODS)[number];

export function isSslMethod(name: string): name is SslMethodName {
  return (SSL_METHODS as readonly string[]).includes(name);
}

/** An encoder body: images → featureDim-dimensional features. */
export type Encoder = Module & { featureDim: number };

/**
 * Projector (and BYOL predictor) MLP: `layers` dense layers
 * in → hidden → … → out, each but the last followed by (batch norm and) ReLU.
 */
export interface ProjectorConfig {
  hidden: number;
  out: number;
  layers: number;
  batchNorm: boolean;
}

/** k-NN monitor (weighted k-NN of Wu et al. 2018 on L2-normalised features). */
export interface KnnConfig {
  k: number;
  /** Vote weight exp(similarity / temperature). */
  temperature: number;
  /** Evaluate every this many epochs (the last epoch always). 0 = only at the end. */
  every: number;
  /** Seeded class-balanced subsets used as memory bank and queries (full sets if larger). */
  bankLimit: number;
  queryLimit: number;
}

/** Options every method shares. */
export interface SslCommonConfig {
  epochs: number;
  batchSize: number;
  projector: ProjectorConfig;
  optimizer: OptimizerConfig;
  schedule: Schedule;
  augment: SslAugmentConfig;
  knn: KnnConfig;
}

export interface SimclrOptions {
  method: 'simclr';
  /** NT-Xent temperature τ. */
  temperature: number;
}

export interface MocoOptions {
  method: 'moco';
  temperature: number;
  /** Number of negative keys kept in the queue. */
  queueSize: number;
  /** Momentum-encoder EMA coefficient at the start, raised to momentumEnd by a cosine schedule. */
  momentum: number;
  momentumEnd: number;
}

export interface ByolOptions {
  method: 'byol';
  /** Target-network EMA coefficient τ at the start, raised to momentumEnd by a cosine schedule. */
  momentum: number;
  momentumEnd: number;
  /** Hidden width of the predictor MLP (its output size is the projector's). */
  predictorHidden: number;
}

export interface BarlowOptions {
  method: 'barlow';
  /** Weight λ of the off-diagonal (redundancy-reduction) term. */
  lambda: number;
  /** Overall scale of the loss (solo-learn's scale_loss). */
  scale: number;
}

export type SslMethodOptions = SimclrOptions | MocoOptions | ByolOptions | BarlowOptions;
export type SslConfig = SslCommonConfig & SslMethodOptions;

/**
 * One SSL method. The pre-trainer owns the loop (batches, augmentation,
 * optimizer, checkpoints); a method says what its loss is and what happens
 * around the update. A step runs, inside one tf.tidy:
 *   aux = targets(v1, v2)                         (no gradient: momentum/target networks)
 *   loss, grads = variableGrads(loss(v1, v2, aux), trainable)
 *   optimizer.apply(grads); afterUpdate(aux, progress)   (EMA, queue)
 */
export interface SslMethod {
  readonly name: SslMethodName;
  /** The encoder being trained; owned by the caller (dispose() leaves it alone). */
  readonly encoder: Encoder;
  /** Trainable variables: the encoder's parameters, then the method's heads. */
  readonly trainable: Variable[];
  /** Every variable of the method's own state (heads, target network, queue), by unique name. */
  readonly state: Record<string, Variable>;
  targets?(v1: Tensor4D, v2: Tensor4D): Tensor[];
  loss(v1: Tensor4D, v2: Tensor4D, aux: Tensor[], ctx: ApplyContext): Tensor;
  /** `progress` is the fraction of training done (global step / total steps). */
  afterUpdate?(aux: Tensor[], progress: number): void;
  /** Non-tensor state for checkpoints (the queue pointer). */
  getExtra?(): Record<string, number>;
  setExtra?(extra: Record<string, number>): void;
  dispose(): void;
}
