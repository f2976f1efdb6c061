import { tf, type Tensor, type Variable } from '../../engine/tf.js';
import { Rng } from '../../engine/rng.js';
import { disposeModule } from '../../models/module.js';
import { projectorHead } from './heads.js';
import type { BarlowOptions, Encoder, SslCommonConfig, SslMethod } from './types.js';

/**
 * The Barlow Twins loss (Zbontar et al. 2021). Each embedding dimension is
 * standardised over the batch (batch norm without affine: biased variance,
 * ε = 1e-5); C = z̃₁ᵀ z̃₂ / N is the d×d cross-correlation and
 *   L = Σ_i (1 − C_ii)² + λ Σ_{i≠j} C_ij².
 */
export function barlowLoss(z1: Tensor, z2: Tensor, lambda: number, eps = 1e-5): Tensor {
  return tf.tidy(() => {
    const n = z1.shape[0]!;
    const d = z1.shape[1]!;
    const standardise = (z: Tensor) => {
      const { mean, variance } = tf.moments(z, 0, true);
      return tf.div(tf.sub(z, mean), tf.sqrt(tf.add(variance, eps)));
    };
    const c = tf.div(tf.matMul(standardise(z1), standardise(z2), true, false), n);
    const eye = tf.eye(d);
    const diag = tf.sum(tf.mul(c, eye), 1);
    const onDiag = tf.sum(tf.square(tf.sub(1, diag)));
    const offDiag = tf.sum(tf.square(tf.mul(c, tf.sub(1, eye))));
    return tf.add(onDiag, tf.mul(offDiag, lambda));
  });
}

/** Barlow Twins: encoder + projector; the two views' projections are decorrelated by barlowLoss (× scale). */
export function createBarlowTwins(encoder: Encoder, cfg: SslCommonConfig & BarlowOptions, rng: Rng): SslMethod {
  const projector = projectorHead(encoder.featureDim, cfg.projector, rng.fork('projector'));
  const state: Record<string, Variable> = {};
  for (const [k, v] of Object.entries({ ...projector.params, ...projector.buffers })) state[`projector/${k}`] = v;
  return {
    name: 'barlow',
    encoder,
    trainable: [...Object.values(encoder.params), ...Object.values(projector.params)],
    state,
    loss(v1, v2, _aux, ctx) {
      const z1 = projector.apply(encoder.apply(v1, ctx), ctx);
      const z2 = projector.apply(encoder.apply(v2, ctx), ctx);
      return tf.mul(barlowLoss(z1, z2, cfg.lambda), cfg.scale);
    },
    dispose: () => disposeModule(projector),
  };
}
