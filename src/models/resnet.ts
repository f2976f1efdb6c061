import { tf, type Tensor } from '../engine/tf.js';
import { Rng } from '../engine/rng.js';
import { ParamBuilder, type ApplyContext, type Module } from './module.js';
import { globalAvgPool, makeBatchNorm, makeConv } from './layers.js';

export interface ResNetConfig {
  inChannels: number;
  /** Width of the first stage; stages double it (w, 2w, 4w). */
  width: number;
  /** Basic blocks per stage; [1,1,1] is ResNet-8, [1,1,2]-like variants deepen it. */
  blocks: [number, number, number];
}

export const RESNET_DEFAULTS: ResNetConfig = { inChannels: 1, width: 16, blocks: [1, 1, 1] };

/**
 * A small CIFAR-style ResNet: stem conv3×3 → three stages of basic blocks
 * (conv-BN-ReLU-conv-BN + shortcut, 1×1 projection when the shape changes),
 * strides 1, 2, 2 → global average pool. With blocks [1,1,1] it has 8 weight
 * layers (ResNet-8); the feature size is 4·width.
 */
export function resnet(config: Partial<ResNetConfig>, rng: Rng): Module & { featureDim: number } {
  const cfg = { ...RESNET_DEFAULTS, ...config };
  const b = new ParamBuilder(rng);
  const owner = { params: b.params, buffers: b.buffers };
  const stem = makeConv(b, owner, 'stem', { inChannels: cfg.inChannels, outChannels: cfg.width, kernel: 3, stride: 1, bias: false });
  const stemBn = makeBatchNorm(b, owner, 'stem/bn', cfg.width);

  type Block = (x: Tensor, ctx?: ApplyContext) => Tensor;
  const blocks: Block[] = [];
  let inC = cfg.width;
  cfg.blocks.forEach((count, stage) => {
    const outC = cfg.width * 2 ** stage;
    for (let i = 0; i < count; i++) {
      const stride = stage > 0 && i === 0 ? 2 : 1;
      const name = `stage${stage + 1}/block${i + 1}`;
      const c1 = makeConv(b, owner, `${name}/conv1`, { inChannels: inC, outChannels: outC, kernel: 3, stride, bias: false });
      const bn1 = makeBatchNorm(b, owner, `${name}/bn1`, outC);
      const c2 = makeConv(b, owner, `${name}/conv2`, { inChannels: outC, outChannels: outC, kernel: 3, stride: 1, bias: false });
      const bn2 = makeBatchNorm(b, owner, `${name}/bn2`, outC);
      const project =
        stride !== 1 || inC !== outC
          ? {
              conv: makeConv(b, owner, `${name}/shortcut`, { inChannels: inC, outChannels: outC, kernel: 1, stride, bias: false }),
              bn: makeBatchNorm(b, owner, `${name}/shortcut/bn`, outC),
            }
          : null;
      blocks.push((x, ctx) => {
        const h = tf.relu(bn1(c1(x, ctx), ctx));
        const r = bn2(c2(h, ctx), ctx);
        const s = project ? project.bn(project.conv(x, ctx), ctx) : x;
        return tf.relu(tf.add(r, s));
      });
      inC = outC;
    }
  });
  return {
    kind: 'resnet',
    featureDim: inC,
    params: b.params,
    buffers: b.buffers,
    apply(x: Tensor, ctx?: ApplyContext): Tensor {
      let h = tf.relu(stemBn(stem(x, ctx), ctx));
      for (const block of blocks) h = block(h, ctx);
      return globalAvgPool(h);
    },
  };
}
