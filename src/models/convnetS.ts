import { tf, type Tensor, type Variable } from '../engine/tf.js';
import { Rng } from '../engine/rng.js';
import { ParamBuilder, type ApplyContext, type Module } from './module.js';
import { globalAvgPool, makeConv } from './layers.js';

export interface ConvNetSConfig {
  inChannels: number;
  /** Channel widths of the three conv layers; WORKLOADS.md fixes 32, 64, 128. */
  widths: [number, number, number];
}

export const CONVNET_S_DEFAULTS: ConvNetSConfig = { inChannels: 1, widths: [32, 64, 128] };

/**
 * ConvNet-S body, exactly as `shared/bench/WORKLOADS.md`: conv3×3 s1 → ReLU →
 * conv3×3 s2 → ReLU → conv3×3 s2 → ReLU → global average pool → 128-d feature.
 */
export function convnetS(config: Partial<ConvNetSConfig>, rng: Rng): Module & { featureDim: number } {
  const cfg = { ...CONVNET_S_DEFAULTS, ...config };
  const b = new ParamBuilder(rng);
  const owner = { params: b.params, buffers: b.buffers };
  const [w1, w2, w3] = cfg.widths;
  const conv1 = makeConv(b, owner, 'conv1', { inChannels: cfg.inChannels, outChannels: w1, kernel: 3, stride: 1 });
  const conv2 = makeConv(b, owner, 'conv2', { inChannels: w1, outChannels: w2, kernel: 3, stride: 2 });
  const conv3 = makeConv(b, owner, 'conv3', { inChannels: w2, outChannels: w3, kernel: 3, stride: 2 });
  return {
    kind: 'convnet-s',
    featureDim: w3,
    params: b.params as Record<string, Variable>,
    buffers: b.buffers,
    apply(x: Tensor, ctx?: ApplyContext): Tensor {
      let h = tf.relu(conv1(x, ctx));
      h = tf.relu(conv2(h, ctx));
      h = tf.relu(conv3(h, ctx));
      return globalAvgPool(h);
    },
  };
}
