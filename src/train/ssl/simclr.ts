import { tf, type Tensor, type Variable } from '../../engine/tf.js';
import { Rng } from '../../engine/rng.js';
import { disposeModule } from '../../models/module.js';
import { crossEntropy } from '../losses.js';
import { projectorHead } from './heads.js';
import type { Encoder, SimclrOptions, SslCommonConfig, SslMethod } from './types.js';

/**
 * NT-Xent (SimCLR, Chen et al. 2020) over 2B projections: rows i and i ± B
 * are the two views of one image. With z L2-normalised and
 * s_ij = z_i·z_j / τ, the loss is the mean over all 2B anchors of
 *   −log( exp(s_i,pos(i)) / Σ_{k≠i} exp(s_ik) ).
 */
export function ntXent(z: Tensor, temperature: number): Tensor {
  return tf.tidy(() => {
    const n = z.shape[0]!;
    const b = n / 2;
    const zn = tf.div(z, tf.norm(z, 'euclidean', 1, true));
    const sim = tf.div(tf.matMul(zn, zn, false, true), temperature);
    // exp(−1e9) is 0 in float32: the same as PyTorch's fill_diagonal_(−inf).
    const masked = tf.sub(sim, tf.mul(tf.eye(n), 1e9));
    const target = tf.tensor1d(Array.from({ length: n }, (_, i) => (i < b ? i + b : i - b)), 'int32');
    return crossEntropy(masked, target);
  });
}

/** SimCLR: encoder + projector trained with NT-Xent on the two views of each image. */
export function createSimclr(encoder: Encoder, cfg: SslCommonConfig & SimclrOptions, rng: Rng): SslMethod {
  const projector = projectorHead(encoder.featureDim, cfg.projector, rng.fork('projector'));
  const state: Record<string, Variable> = {};
  for (const [k, v] of Object.entries({ ...projector.params, ...projector.buffers })) state[`projector/${k}`] = v;
  return {
    name: 'simclr',
    encoder,
    trainable: [...Object.values(encoder.params), ...Object.values(projector.params)],
    state,
    loss(v1, v2, _aux, ctx) {
      const z = projector.apply(encoder.apply(tf.concat([v1, v2]), ctx), ctx);
      return ntXent(z, cfg.temperature);
    },
    dispose: () => disposeModule(projector),
  };
}
