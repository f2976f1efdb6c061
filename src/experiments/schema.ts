import { z } from 'zod';
import { BACKEND_NAMES } from '../engine/backend.js';
import { MODEL_NAMES } from '../models/registry.js';

/**
 * The experiment spec: one zod schema, from which the TypeScript types and the
 * JSON Schema for editors are both derived. Every object is strict (unknown
 * keys are errors) and every field has a default where one makes sense, so
 * the resolved spec stored with a run says exactly what was done.
 */

const positiveInt = (what = 'positive integer') =>
  z.number({ error: `expected ${what}` }).int({ error: `expected ${what}` }).positive({ error: `expected ${what}` });
const nonNegative = () => z.number({ error: 'expected a number ≥ 0' }).finite({ error: 'expected a finite number' }).min(0, { error: 'expected a number ≥ 0' });
const positive = () => z.number({ error: 'expected a number > 0' }).finite({ error: 'expected a finite number' }).positive({ error: 'expected a number > 0' });
const fraction = () => z.number({ error: 'expected a number in [0,1)' }).min(0, { error: 'expected a number in [0,1)' }).lt(1, { error: 'expected a number in [0,1)' });
const seed = () => z.number({ error: 'expected an integer seed ≥ 0' }).int({ error: 'expected an integer seed ≥ 0' }).min(0, { error: 'expected an integer seed ≥ 0' });

export const DataSchema = z
  .strictObject({
    dataset: z.string({ error: 'expected a dataset name or path' }).min(1, { error: 'expected a dataset name or path' })
      .describe('Built-in dataset name (see `hemlock list`) or a path to a dataset directory.'),
    dataDir: z.string().optional().describe('Directory holding the files of a built-in dataset (e.g. the full Fashion-MNIST).'),
    classes: z.array(z.number().int().min(0)).optional().describe('Keep only these classes (relabelled 0..k-1 in the given order).'),
    trainLimit: positiveInt().optional().describe('Use a seeded, class-balanced subset of this many training samples.'),
    testLimit: positiveInt().optional().describe('Use a seeded, class-balanced subset of this many test samples.'),
  })
  .describe('Which data to train and test on.');

export const ModelSchema = z.strictObject({
  architecture: z.enum(MODEL_NAMES as [string, ...string[]], { error: `expected one of ${MODEL_NAMES.join(', ')}` }).default('convnet-s'),
  head: z.enum(['linear', 'mlp'], { error: 'expected linear or mlp' }).default('linear'),
  options: z.record(z.string(), z.unknown()).default({}).describe('Architecture options, e.g. {widths: [32,64,128]} or {width: 16, blocks: [1,1,1]}.'),
});

export const OptimizerSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('sgd'),
    lr: positive().default(0.05),
    momentum: fraction().default(0.9),
    nesterov: z.boolean().default(true),
    weightDecay: nonNegative().default(5e-4),
  }),
  z.strictObject({
    kind: z.literal('adam'),
    lr: positive().default(1e-3),
    beta1: fraction().default(0.9),
    beta2: fraction().default(0.999),
    epsilon: positive().default(1e-8),
    weightDecay: nonNegative().default(0),
  }),
], { error: 'expected optimizer kind sgd or adam' });

export const ScheduleSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('constant') }),
  z.strictObject({ kind: z.literal('cosine'), warmupSteps: z.number().int().min(0).optional(), minFactor: fraction().optional() }),
  z.strictObject({ kind: z.literal('step'), milestones: z.array(positive()), gamma: positive() }),
], { error: 'expected schedule kind constant, cosine or step' });

export const AugmentSchema = z.strictObject({
  shift: z.number().int({ error: 'expected an integer number of pixels ≥ 0' }).min(0, { error: 'expected an integer number of pixels ≥ 0' }).default(2),
  shiftPadding: z.enum(['reflect', 'zero']).default('reflect'),
  flip: z.union([z.boolean(), z.literal('auto')]).default('auto').describe("'auto' flips only datasets whose classes are mirror-invariant (Fashion-MNIST, CIFAR)."),
  brightness: nonNegative().default(0),
  contrast: nonNegative().default(0),
  noise: nonNegative().default(0),
});

export const TrainSchema = z.strictObject({
  epochs: positiveInt().default(10),
  batchSize: positiveInt().default(128),
  optimizer: OptimizerSchema.default({ kind: 'sgd', lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 5e-4 }),
  schedule: ScheduleSchema.default({ kind: 'cosine' }),
  augment: AugmentSchema.default({ shift: 2, shiftPadding: 'reflect', flip: 'auto', brightness: 0, contrast: 0, noise: 0 }),
  checkpoint: z.boolean().default(true).describe('Checkpoint every epoch so an interrupted run resumes.'),
});

export const ExperimentSchema = z
  .strictObject({
    name: z.string().regex(/^[A-Za-z0-9._-]+$/, { error: 'expected letters, digits, . _ - only' }).default('experiment'),
    description: z.string().optional(),
    seed: seed().default(0),
    backend: z.enum(['auto', ...BACKEND_NAMES], { error: `expected one of auto, ${BACKEND_NAMES.join(', ')}` }).default('auto'),
    data: DataSchema,
    model: ModelSchema.default({ architecture: 'convnet-s', head: 'linear', options: {} }),
    train: TrainSchema.default({
      epochs: 10,
      batchSize: 128,
      optimizer: { kind: 'sgd', lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 5e-4 },
      schedule: { kind: 'cosine' },
      augment: { shift: 2, shiftPadding: 'reflect', flip: 'auto', brightness: 0, contrast: 0, noise: 0 },
      checkpoint: true,
    }),
  })
  .describe('A hemlock experiment: data → model → training → evaluation, recorded as one run.');

/** What a user writes (defaults optional). */
export type ExperimentInput = z.input<typeof ExperimentSchema>;
/** What a run uses: every default filled in. */
export type Experiment = z.output<typeof ExperimentSchema>;

/** JSON Schema of the spec, for editors (`hemlock schema`). */
export function experimentJsonSchema(): object {
  return z.toJSONSchema(ExperimentSchema, { io: 'input' });
}
