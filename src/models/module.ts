import { tf, type Tensor, type Variable } from '../engine/tf.js';
import { Rng } from '../engine/rng.js';

/** Parameters by name, in a fixed order (the order they were created in). */
export type Params = Record<string, Tensor>;

/**
 * Per-call context. `params` overrides the module's own variables (attacks
 * differentiate with respect to explicit parameter tensors); `training`
 * switches batch-norm to batch statistics, whose running-average updates are
 * pushed to `stateUpdates` for the trainer to apply after the step.
 */
export interface ApplyContext {
  training?: boolean;
  params?: Params;
  stateUpdates?: { variable: Variable; value: Tensor }[];
}

/**
 * A model piece as a pure function of its parameters. Parameters live in
 * tf.Variables (trainable) and buffers (non-trainable state such as
 * batch-norm running statistics).
 */
export interface Module {
  readonly kind: string;
  readonly params: Record<string, Variable>;
  readonly buffers: Record<string, Variable>;
  apply(x: Tensor, ctx?: ApplyContext): Tensor;
}

/** Collects named parameters while a module is built. */
export class ParamBuilder {
  readonly params: Record<string, Variable> = {};
  readonly buffers: Record<string, Variable> = {};

  constructor(private readonly rng: Rng, private readonly prefix = '') {}

  private fullName(name: string): string {
    return this.prefix ? `${this.prefix}/${name}` : name;
  }

  /**
   * He (Kaiming) uniform init, U(−√(6/fan_in), √(6/fan_in)): the standard for
   * ReLU networks; drawn from hemlock's seeded Rng so init is reproducible on
   * every backend.
   */
  heUniform(name: string, shape: number[], fanIn: number): Variable {
    const n = shape.reduce((a, b) => a * b, 1);
    const limit = Math.sqrt(6 / fanIn);
    const values = new Float32Array(n);
    const r = this.rng.fork(this.fullName(name));
    for (let i = 0; i < n; i++) values[i] = r.uniform(-limit, limit);
    return this.add(name, tf.tensor(values, shape));
  }

  constant(name: string, shape: number[], value: number, trainable = true): Variable {
    return this.add(name, tf.fill(shape, value), trainable);
  }

  private add(name: string, init: Tensor, trainable = true): Variable {
    const full = this.fullName(name);
    if (full in this.params || full in this.buffers) throw new Error(`duplicate parameter ${full}`);
    // Variable names must be unique in the tfjs engine; prefix with a counter.
    const v = tf.variable(init, trainable, `${full}#${nextVariableId++}`);
    init.dispose();
    (trainable ? this.params : this.buffers)[full] = v;
    return v;
  }
}

let nextVariableId = 0;

/** The parameter tensor to use in this call: an override, or the variable. */
export function param(module: { params: Record<string, Variable> }, name: string, ctx?: ApplyContext): Tensor {
  const override = ctx?.params?.[name];
  if (override) return override;
  const v = module.params[name];
  if (!v) throw new Error(`unknown parameter ${name}`);
  return v;
}

export function disposeModule(m: Module): void {
  for (const v of Object.values(m.params)) v.dispose();
  for (const v of Object.values(m.buffers)) v.dispose();
}

export function countParams(m: Module): number {
  return Object.values(m.params).reduce((a, v) => a + v.size, 0);
}
