import { tf, type Tensor, type Variable } from '../../engine/tf.js';
import { Rng } from '../../engine/rng.js';
import { disposeModule } from '../../models/module.js';
import { crossEntropy } from '../losses.js';
import { copyParams, emaUpdate, l2Normalize, momentumAt, projectorHead } from './heads.js';
import type { Encoder, MocoOptions, SslCommonConfig, SslMethod } from './types.js';

/**
 * InfoNCE of MoCo (He et al. 2020): for L2-normalised queries q [B,d], their
 * positive keys k [B,d] and a queue of negatives [K,d], the logits of row i
 * are [q_i·k_i, q_i·queue_1, …, q_i·queue_K] / τ and the target is index 0.
 */
export function infoNce(q: Tensor, k: Tensor, queue: Tensor, temperature: number): Tensor {
  return tf.tidy(() => {
    const pos = tf.sum(tf.mul(q, k), 1, true);
    const neg = tf.matMul(q, queue, false, true);
    const logits = tf.div(tf.concat([pos, neg], 1), temperature);
    return crossEntropy(logits, tf.zeros([q.shape[0]!], 'int32'));
  });
}

/**
 * Writes `keys` (m rows) into the ring buffer `queue` (K rows) at `ptr`,
 * wrapping around; returns the new queue (a new tensor) and pointer.
 */
export function enqueue(queue: Tensor, keys: Tensor, ptr: number): { queue: Tensor; ptr: number } {
  const K = queue.shape[0]!;
  const m = keys.shape[0]!;
  return tf.tidy(() => {
    const k = keys;
    if (m >= K) return { queue: tf.slice(keys, [m - K, 0], [K, -1]), ptr: 0 };
    const end = ptr + m;
    if (end <= K) {
      const parts = [tf.slice(queue, [0, 0], [ptr, -1]), k, tf.slice(queue, [end, 0], [K - end, -1])].filter((t) => t.shape[0]! > 0);
      return { queue: tf.concat(parts, 0), ptr: end % K };
    }
    const r = end - K; // rows that wrap to the front
    const parts = [tf.slice(k, [m - r, 0], [r, -1]), tf.slice(queue, [r, 0], [ptr - r, -1]), tf.slice(k, [0, 0], [m - r, -1])].filter((t) => t.shape[0]! > 0);
    return { queue: tf.concat(parts, 0), ptr: r };
  });
}

/**
 * MoCo v2 (Chen et al. 2020): a query encoder + MLP projector trained with
 * InfoNCE against keys from a momentum (EMA) copy and a queue of past keys;
 * symmetrised over the two views, both views' keys enqueued.
 */
let nextQueueId = 0;

export function createMoco(encoder: Encoder, cfg: SslCommonConfig & MocoOptions, rng: Rng): SslMethod {
  const projector = projectorHead(encoder.featureDim, cfg.projector, rng.fork('projector'));
  const state: Record<string, Variable> = {};
  for (const [k, v] of Object.entries({ ...projector.params, ...projector.buffers })) state[`projector/${k}`] = v;
  const targetEncoder = copyParams(encoder, 'momentumEncoder', state);
  const targetProjector = copyParams(projector, 'momentumProjector', state);
  const qr = rng.fork('queue');
  const init = new Float32Array(cfg.queueSize * cfg.projector.out);
  for (let i = 0; i < init.length; i++) init[i] = qr.normal();
  const queue = tf.tidy(() => tf.variable(l2Normalize(tf.tensor2d(init, [cfg.queueSize, cfg.projector.out])), false, `moco/queue#${nextQueueId++}`));
  state['queue'] = queue;
  let ptr = 0;
  const keysOf = (x: Tensor) =>
    l2Normalize(projector.apply(encoder.apply(x, { training: true, params: targetEncoder }), { training: true, params: targetProjector }));
  return {
    name: 'moco',
    encoder,
    trainable: [...Object.values(encoder.params), ...Object.values(projector.params)],
    state,
    // Each view goes through the networks as its own batch (as MoCo's two
    // encoder calls), so batch-norm statistics never mix a query with its key.
    targets(v1, v2) {
      return [keysOf(v1), keysOf(v2)];
    },
    loss(v1, v2, [k1, k2], ctx) {
      const q1 = l2Normalize(projector.apply(encoder.apply(v1, ctx), ctx));
      const q2 = l2Normalize(projector.apply(encoder.apply(v2, ctx), ctx));
      return tf.mul(tf.add(infoNce(q1, k2!, queue, cfg.temperature), infoNce(q2, k1!, queue, cfg.temperature)), 0.5);
    },
    afterUpdate([k1, k2], progress) {
      const tau = momentumAt(cfg.momentum, cfg.momentumEnd, progress);
      emaUpdate(targetEncoder, encoder.params, tau);
      emaUpdate(targetProjector, projector.params, tau);
      const next = enqueue(queue, tf.concat([k1!, k2!]), ptr);
      queue.assign(next.queue);
      next.queue.dispose();
      ptr = next.ptr;
    },
    getExtra: () => ({ queuePtr: ptr }),
    setExtra: (x) => {
      ptr = x.queuePtr ?? 0;
    },
    dispose() {
      disposeModule(projector);
      tf.dispose([...Object.values(targetEncoder), ...Object.values(targetProjector), queue]);
    },
  };
}
