import { type Tensor, type Variable } from '../engine/tf.js';
import { type ApplyContext, type Module, type Params } from './module.js';

/**
 * An encoder body (input → features) followed by a head (features → logits).
 * Its parameters are the body's under `body/` and the head's under `head/`,
 * so attacks can address "all parameters" or just the head.
 */
export interface Classifier extends Module {
  readonly body: Module & { featureDim: number };
  readonly head: Module;
  features(x: Tensor, ctx?: ApplyContext): Tensor;
}

function prefixed(prefix: string, rec: Record<string, Variable>): Record<string, Variable> {
  const out: Record<string, Variable> = {};
  for (const [k, v] of Object.entries(rec)) out[`${prefix}/${k}`] = v;
  return out;
}

/** The part of a context that concerns one sub-module (prefix stripped). */
export function subContext(ctx: ApplyContext | undefined, prefix: string): ApplyContext | undefined {
  if (!ctx?.params) return ctx;
  const p = `${prefix}/`;
  const params: Params = {};
  for (const [k, v] of Object.entries(ctx.params)) if (k.startsWith(p)) params[k.slice(p.length)] = v;
  return { ...ctx, params };
}

export function classifier(body: Module & { featureDim: number }, head: Module): Classifier {
  return {
    kind: `${body.kind}+${head.kind}`,
    body,
    head,
    params: { ...prefixed('body', body.params), ...prefixed('head', head.params) },
    buffers: { ...prefixed('body', body.buffers), ...prefixed('head', head.buffers) },
    features: (x, ctx) => body.apply(x, subContext(ctx, 'body')),
    apply: (x, ctx) => head.apply(body.apply(x, subContext(ctx, 'body')), subContext(ctx, 'head')),
  };
}
