import { tf, type Tensor, type Variable } from '../../engine/tf.js';
import { Rng } from '../../engine/rng.js';
import { disposeModule } from '../../models/module.js';
import { copyParams, emaUpdate, l2Normalize, momentumAt, projectorHead } from './heads.js';
import type { ByolOptions, Encoder, SslCommonConfig, SslMethod } from './types.js';

/**
 * BYOL's regression loss (Grill et al. 2020): the mean over the batch of
 * ‖p̂ − ẑ‖² = 2 − 2·cos(p, z) between the online prediction p and the target
 * projection z (both L2-normalised).
 */
export function byolLoss(p: Tensor, z: Tensor): Tensor {
  return tf.tidy(() => tf.mean(tf.sub(2, tf.mul(2, tf.sum(tf.mul(l2Normalize(p), l2Normalize(z)), 1)))));
}

/**
 * BYOL: online encoder → projector → predictor regresses the target network's
 * projection of the other view; the target (encoder + projector) is an EMA of
 * the online one with τ raised from `momentum` to `momentumEnd` by a cosine
 * schedule. Loss symmetrised over the two views (summed, as in the paper).
 */
export function createByol(encoder: Encoder, cfg: SslCommonConfig & ByolOptions, rng: Rng): SslMethod {
  const projector = projectorHead(encoder.featureDim, cfg.projector, rng.fork('projector'));
  const predictor = projectorHead(
    cfg.projector.out,
    { hidden: cfg.predictorHidden, out: cfg.projector.out, layers: 2, batchNorm: cfg.projector.batchNorm },
    rng.fork('predictor'),
    'predictor',
  );
  const state: Record<string, Variable> = {};
  for (const [k, v] of Object.entries({ ...projector.params, ...projector.buffers })) state[`projector/${k}`] = v;
  for (const [k, v] of Object.entries({ ...predictor.params, ...predictor.buffers })) state[`predictor/${k}`] = v;
  const targetEncoder = copyParams(encoder, 'targetEncoder', state);
  const targetProjector = copyParams(projector, 'targetProjector', state);
  const targetOf = (x: Tensor) => projector.apply(encoder.apply(x, { training: true, params: targetEncoder }), { training: true, params: targetProjector });
  return {
    name: 'byol',
    encoder,
    trainable: [...Object.values(encoder.params), ...Object.values(projector.params), ...Object.values(predictor.params)],
    state,
    targets(v1, v2) {
      return [targetOf(v1), targetOf(v2)];
    },
    loss(v1, v2, [z1, z2], ctx) {
      const p1 = predictor.apply(projector.apply(encoder.apply(v1, ctx), ctx), ctx);
      const p2 = predictor.apply(projector.apply(encoder.apply(v2, ctx), ctx), ctx);
      return tf.add(byolLoss(p1, z2!), byolLoss(p2, z1!));
    },
    afterUpdate(_aux, progress) {
      const tau = momentumAt(cfg.momentum, cfg.momentumEnd, progress);
      emaUpdate(targetEncoder, encoder.params, tau);
      emaUpdate(targetProjector, projector.params, tau);
    },
    dispose() {
      disposeModule(projector);
      disposeModule(predictor);
      tf.dispose([...Object.values(targetEncoder), ...Object.values(targetProjector)]);
    },
  };
}
