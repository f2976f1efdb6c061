import { tf, type Tensor, type Variable } from '../../engine/tf.js';
import { Rng } from '../../engine/rng.js';
import { ParamBuilder, type ApplyContext, type Module } from '../../models/module.js';
import { makeBatchNorm, makeDense } from '../../models/layers.js';
import type { ProjectorConfig } from './types.js';

/**
 * Pieces the SSL methods share: the projector / predictor MLP, L2
 * normalisation, target networks kept as EMA copies of online parameters, and
 * the cosine momentum schedule of BYOL and MoCo v2.
 */

/** An MLP in → hidden … → out with `layers` dense layers, (batch norm +) ReLU between them. */
export function projectorHead(inDim: number, cfg: ProjectorConfig, rng: Rng, kind = 'projector'): Module {
  if (!Number.isInteger(cfg.layers) || cfg.layers < 1) throw new Error(`${kind}: layers must be a positive integer, got ${cfg.layers}`);
  const b = new ParamBuilder(rng);
  const owner = { params: b.params, buffers: b.buffers };
  const dims = [inDim, ...Array.from({ length: cfg.layers - 1 }, () => cfg.hidden), cfg.out];
  const dense = dims.slice(1).map((d, i) => makeDense(b, owner, `fc${i + 1}`, dims[i]!, d));
  const norms = cfg.batchNorm ? dense.slice(0, -1).map((_, i) => makeBatchNorm(b, owner, `bn${i + 1}`, dims[i + 1]!)) : [];
  return {
    kind,
    params: b.params,
    buffers: b.buffers,
    apply(x: Tensor, ctx?: ApplyContext): Tensor {
      let h = x;
      dense.forEach((fc, i) => {
        h = fc(h, ctx);
        if (i < dense.length - 1) {
          if (cfg.batchNorm) h = norms[i]!(h, ctx);
          h = tf.relu(h);
        }
      });
      return h;
    },
  };
}

/** Rows scaled to unit L2 norm (ε keeps the gradient finite at 0). */
export function l2Normalize(z: Tensor, eps = 1e-12): Tensor {
  return tf.tidy(() => tf.div(z, tf.sqrt(tf.maximum(tf.sum(tf.square(z), 1, true), eps))));
}

/** Trainable-false copies of a module's parameters, under `prefix/` in `into`. */
export function copyParams(module: Module, prefix: string, into: Record<string, Variable>): Record<string, Variable> {
  const copy: Record<string, Variable> = {};
  for (const [name, v] of Object.entries(module.params)) {
    const init = v.clone();
    const c = tf.variable(init, false, `${prefix}/${name}#${nextCopyId++}`);
    init.dispose();
    copy[name] = c;
    into[`${prefix}/${name}`] = c;
  }
  return copy;
}
let nextCopyId = 0;

/** target ← τ·target + (1 − τ)·online for every parameter. */
export function emaUpdate(target: Record<string, Variable>, online: Record<string, Variable>, tau: number): void {
  tf.tidy(() => {
    for (const [name, t] of Object.entries(target)) t.assign(tf.add(tf.mul(t, tau), tf.mul(online[name]!, 1 - tau)));
  });
}

/** Cosine increase of the EMA coefficient from `start` (progress 0) to `end` (progress 1), as BYOL. */
export function momentumAt(start: number, end: number, progress: number): number {
  const p = Math.min(1, Math.max(0, progress));
  return end - (end - start) * (Math.cos(Math.PI * p) + 1) / 2;
}

/** The first and second halves of a batch of 2B rows. */
export function splitHalves(t: Tensor): [Tensor, Tensor] {
  const b = t.shape[0]! / 2;
  return tf.split(t, [b, b], 0) as [Tensor, Tensor];
}
