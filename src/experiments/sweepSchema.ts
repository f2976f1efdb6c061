import { z } from 'zod';
import { experimentJsonSchema } from './schema.js';

/**
 * The sweep spec: a `base` experiment plus axes that vary it. `grid` axes are
 * crossed with each other; each `zip` group's axes advance together (equal
 * lengths) and the groups are crossed with the grid and with each other. An
 * axis is a dotted path into the experiment (`train.epochs`,
 * `model.options.widths`) and the list of values it takes. Every expanded run
 * is validated as a full experiment; its id is the hash of its resolved spec.
 */

/** `seed`, `train.epochs`, `model.options.widths`, `attack.budget`. */
export const AXIS_PATH = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

const axisPath = z.string().regex(AXIS_PATH, { error: 'expected a dotted path such as train.epochs' });
const axisValues = z
  .array(z.unknown(), { error: 'expected a list of values' })
  .min(1, { error: 'expected at least one value' })
  .describe('The values this axis takes (any JSON: numbers, strings, objects).');

export const GridSchema = z
  .record(axisPath, axisValues)
  .describe('Axes crossed with each other: {"seed": [0,1,2], "train.epochs": [1,2]} makes 6 runs.');

export const ZipGroupSchema = z
  .record(axisPath, axisValues)
  .superRefine((group, ctx) => {
    const lengths = Object.entries(group).map(([k, v]) => [k, v.length] as const);
    if (lengths.length === 0) ctx.addIssue({ code: 'custom', message: 'expected at least one axis in a zip group', input: group });
    const first = lengths[0];
    for (const [k, n] of lengths.slice(1)) {
      if (first && n !== first[1]) {
        ctx.addIssue({ code: 'custom', path: [k], message: `zip axes must have equal lengths: '${first[0]}' has ${first[1]} values, '${k}' has ${n}`, input: group[k] });
      }
    }
  })
  .describe('Axes that advance together (equal lengths): {"attack.budget": [0.01, 0.05], "attack.epsilon": [8, 16]} makes 2 runs.');

export const SweepSchema = z
  .strictObject({
    name: z.string().regex(/^[A-Za-z0-9._-]+$/, { error: 'expected letters, digits, . _ - only' }).default('sweep'),
    description: z.string().optional(),
    base: z
      .record(z.string(), z.unknown(), { error: 'expected an experiment object' })
      .describe('The experiment every run starts from (see `hemlock schema`); axes override its fields. Its name defaults to the sweep name.'),
    grid: GridSchema.default({}),
    zip: z.array(ZipGroupSchema, { error: 'expected a list of zip groups' }).default([]),
  })
  .describe('A hemlock sweep: a base experiment and the axes that vary it.');

export type SweepInput = z.input<typeof SweepSchema>;
export type Sweep = z.output<typeof SweepSchema>;

/** A JSON Schema with `required` dropped everywhere: every field of a base experiment is optional (axes may supply it). */
function deepPartial(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(deepPartial);
  if (!schema || typeof schema !== 'object') return schema;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(schema as Record<string, unknown>)) {
    if (k === 'required' || k === '$schema') continue;
    out[k] = deepPartial(v);
  }
  return out;
}

/** JSON Schema of sweep specs (`hemlock schema --sweep`); `base` carries the experiment schema so editors complete it. */
export function sweepJsonSchema(): object {
  const schema = z.toJSONSchema(SweepSchema, { io: 'input' }) as { properties: Record<string, unknown> };
  const base = deepPartial(experimentJsonSchema()) as Record<string, unknown>;
  schema.properties.base = { ...base, description: (schema.properties.base as { description?: string }).description };
  return schema;
}
