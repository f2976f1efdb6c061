import { tf, type Tensor } from '../engine/tf.js';
import { Rng } from '../engine/rng.js';
import { ParamBuilder, type ApplyContext, type Module } from './module.js';
import { makeDense } from './layers.js';

export interface MlpConfig {
  /** Input size; images are flattened (H·W·C). */
  inDim: number;
  /** Hidden widths; the last one is the feature size. */
  hidden: number[];
}

export const MLP_DEFAULTS: MlpConfig = { inDim: 784, hidden: [256, 128] };

/** A multilayer perceptron body: flatten → (dense → ReLU)×k. */
export function mlp(config: Partial<MlpConfig>, rng: Rng): Module & { featureDim: number } {
  const cfg = { ...MLP_DEFAULTS, ...config };
  if (cfg.hidden.length === 0) throw new Error('mlp: hidden must list at least one width');
  const b = new ParamBuilder(rng);
  const owner = { params: b.params };
  const layers = cfg.hidden.map((w, i) => makeDense(b, owner, `dense${i + 1}`, i === 0 ? cfg.inDim : cfg.hidden[i - 1]!, w));
  return {
    kind: 'mlp',
    featureDim: cfg.hidden[cfg.hidden.length - 1]!,
    params: b.params,
    buffers: b.buffers,
    apply(x: Tensor, ctx?: ApplyContext): Tensor {
      let h = x.rank > 2 ? tf.reshape(x, [x.shape[0]!, -1]) : x;
      for (const layer of layers) h = tf.relu(layer(h, ctx));
      return h;
    },
  };
}
