import { tf, type Tensor } from '../engine/tf.js';
import { Rng } from '../engine/rng.js';
import { ParamBuilder, type ApplyContext, type Module } from './module.js';
import { makeDense } from './layers.js';

/** A linear head: features → logits. */
export function linearHead(inDim: number, numClasses: number, rng: Rng): Module {
  const b = new ParamBuilder(rng);
  const owner = { params: b.params };
  const fc = makeDense(b, owner, 'fc', inDim, numClasses);
  return { kind: 'linear', params: b.params, buffers: b.buffers, apply: (x, ctx) => fc(x, ctx) };
}

/** An MLP head (dense → ReLU → dense), also used as an SSL projector. */
export function mlpHead(inDim: number, hidden: number, outDim: number, rng: Rng): Module {
  const b = new ParamBuilder(rng);
  const owner = { params: b.params };
  const fc1 = makeDense(b, owner, 'fc1', inDim, hidden);
  const fc2 = makeDense(b, owner, 'fc2', hidden, outDim);
  return {
    kind: 'mlp-head',
    params: b.params,
    buffers: b.buffers,
    apply: (x: Tensor, ctx?: ApplyContext) => fc2(tf.relu(fc1(x, ctx)), ctx),
  };
}
