import { z } from 'zod';
import { BACKEND_NAMES } from '../engine/backend.js';
import { MODEL_NAMES } from '../models/registry.js';
import { AttackSectionSchema } from '../attacks/section.js';
import { T1AttackEntrySchema } from '../attacks/t1/section.js';
import { BackdoorSectionSchema } from './backdoorRunner.js';

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
  shift: z.number().int({ error: 'expected an integer number of pixels ≥ 0' }).min(0, { error: 'expected an integer number of pixels ≥ 0' }).default(0),
  shiftPadding: z.enum(['reflect', 'zero']).default('reflect'),
  flip: z.union([z.boolean(), z.literal('auto')]).default('auto').describe("'auto' flips only datasets whose classes are mirror-invariant (Fashion-MNIST, CIFAR)."),
  brightness: nonNegative().default(0),
  contrast: nonNegative().default(0),
  noise: nonNegative().default(0),
});

export const TrainSchema = z.strictObject({
  epochs: positiveInt().default(10),
  batchSize: positiveInt().default(64).describe('Minibatch size (64: see the optimizer default).'),
  // Adam at 5e-3, batch 64, cosine schedule, flip: in PyTorch (same ConvNet-S,
  // 10 epochs, full Fashion-MNIST) this recipe ended at 90.5%, against 90.2% for
  // 3e-3, 90.1% with label smoothing, 89.0% for 3e-3 at batch 128 and ~81% after
  // 6 epochs for SGD 0.05 Nesterov with shift augmentation (README, Results).
  optimizer: OptimizerSchema.prefault({ kind: 'adam', lr: 5e-3 }),
  schedule: ScheduleSchema.default({ kind: 'cosine' }),
  augment: AugmentSchema.prefault({}),
  checkpoint: z.boolean().default(true).describe('Checkpoint every epoch so an interrupted run resumes.'),
});

// ---- Self-supervised pre-training and downstream probing (issue 4) ----

const probability = () => z.number({ error: 'expected a probability in [0,1]' }).min(0, { error: 'expected a probability in [0,1]' }).max(1, { error: 'expected a probability in [0,1]' });
const unitRange = () =>
  z
    .tuple([z.number().gt(0, { error: 'expected a number in (0,1]' }).max(1, { error: 'expected a number in (0,1]' }), z.number().gt(0, { error: 'expected a number in (0,1]' }).max(1, { error: 'expected a number in (0,1]' })])
    .refine(([a, b]) => a <= b, { error: 'expected [low, high] with low ≤ high' });
const positiveRange = () => z.tuple([positive(), positive()]).refine(([a, b]) => a <= b, { error: 'expected [low, high] with low ≤ high' });

export const SslAugmentSchema = z
  .strictObject({
    cropScale: unitRange().default([0.2, 1]).describe('Random resized crop: range of the crop area as a fraction of the image.'),
    cropRatio: positiveRange().default([3 / 4, 4 / 3]).describe('Random resized crop: range of the aspect ratio.'),
    flip: z.union([z.boolean(), z.literal('auto')]).default('auto').describe("'auto' flips only datasets whose classes are mirror-invariant."),
    jitterProb: probability().default(0.8),
    brightness: nonNegative().default(0.4),
    contrast: nonNegative().default(0.4),
    saturation: nonNegative().default(0.4).describe('Only used for 3-channel images.'),
    grayscaleProb: probability().default(0.2).describe('Only used for 3-channel images.'),
    blurProb: probability().default(0),
    blurSigma: positiveRange().default([0.1, 2]),
    noise: nonNegative().default(0),
  })
  .describe('SSL view augmentations (SimCLR recipe), applied independently to the two views.');

export const ProjectorSchema = z.strictObject({
  hidden: positiveInt().default(256),
  out: positiveInt().default(128),
  layers: positiveInt().default(2),
  batchNorm: z.boolean().default(true),
});

export const KnnSchema = z
  .strictObject({
    k: positiveInt().default(20),
    temperature: positive().default(0.1),
    every: z.number().int({ error: 'expected an integer ≥ 0' }).min(0, { error: 'expected an integer ≥ 0' }).default(1).describe('Evaluate every this many epochs (0: only at the end).'),
    bankLimit: positiveInt().default(10000),
    queryLimit: positiveInt().default(2000),
  })
  .describe('k-NN monitor on the labelled train (bank) and test (queries) sets of the pre-training data.');

/** The pre-training optimizer when a spec names none. */
export const SSL_DEFAULT_OPTIMIZER = { kind: 'adam', lr: 2e-3, weightDecay: 1e-6 } as const;

const sslCommon = {
  epochs: positiveInt().default(10),
  batchSize: positiveInt().default(256),
  projector: ProjectorSchema.prefault({}),
  optimizer: OptimizerSchema.prefault({ ...SSL_DEFAULT_OPTIMIZER }),
  schedule: ScheduleSchema.prefault({ kind: 'cosine' }),
  augment: SslAugmentSchema.prefault({}),
  knn: KnnSchema.prefault({}),
};
const momentumEnd = () => z.number({ error: 'expected a number in [0,1]' }).min(0, { error: 'expected a number in [0,1]' }).max(1, { error: 'expected a number in [0,1]' });

export const PretrainSchema = z
  .discriminatedUnion('method', [
    z.strictObject({ method: z.literal('simclr'), ...sslCommon, temperature: positive().default(0.2) }),
    z.strictObject({
      method: z.literal('moco'),
      ...sslCommon,
      temperature: positive().default(0.2),
      queueSize: positiveInt().default(4096),
      momentum: fraction().default(0.99),
      momentumEnd: momentumEnd().default(0.999),
    }),
    z.strictObject({
      method: z.literal('byol'),
      ...sslCommon,
      momentum: fraction().default(0.99),
      momentumEnd: momentumEnd().default(1),
      predictorHidden: positiveInt().default(256),
    }),
    z.strictObject({ method: z.literal('barlow'), ...sslCommon, lambda: nonNegative().default(0.0051), scale: positive().default(0.1) }),
  ], { error: 'expected method simclr, moco, byol or barlow' })
  .describe('Self-supervised pre-training of the model body on data.train without labels (the run then probes it).');

export const ProbeSchema = z
  .discriminatedUnion('mode', [
    z.strictObject({
      mode: z.literal('linear'),
      data: DataSchema.optional().describe('Downstream data (default: the experiment data), e.g. other classes for transfer.'),
      epochs: positiveInt().default(300).describe('Full-batch steps, or minibatch epochs when batchSize is set.'),
      batchSize: positiveInt().optional(),
      optimizer: OptimizerSchema.prefault({ kind: 'adam', lr: 0.01 }),
      schedule: ScheduleSchema.prefault({ kind: 'cosine' }),
      standardize: z.boolean().default(true).describe('Standardise features with the training mean and std.'),
      baseline: z.boolean().default(true).describe('Also probe a randomly initialised encoder of the same architecture and seed.'),
    }),
    z.strictObject({
      mode: z.literal('finetune'),
      data: DataSchema.optional(),
      epochs: positiveInt().default(5),
      batchSize: positiveInt().default(128),
      optimizer: OptimizerSchema.prefault({ kind: 'sgd', lr: 0.01 }),
      schedule: ScheduleSchema.prefault({ kind: 'cosine' }),
      augment: AugmentSchema.prefault({}),
      baseline: z.boolean().default(true),
    }),
  ], { error: 'expected probe mode linear or finetune' })
  .describe('Downstream evaluation of the pre-trained encoder.');

// ---- T1: indiscriminate poisoning of a frozen encoder's downstream set (issue 5) ----

export const T1Schema = z
  .strictObject({
    mode: z.enum(['same-dataset', 'transfer'], { error: 'expected same-dataset or transfer' })
      .describe('same-dataset: the encoder was pre-trained on `data`, the probe uses `data` too; transfer: the probe uses `downstream` (other classes or another dataset).'),
    downstream: DataSchema.optional().describe('Downstream data the victim probes (default: the experiment data). Transfer needs another dataset or other classes; same-dataset may limit the sizes.'),
    encoder: z
      .discriminatedUnion('source', [
        z.strictObject({ source: z.literal('pretrain') }).describe('The `pretrain` section on `data`, through the encoder cache.'),
        z.strictObject({ source: z.literal('supervised') }).describe('`model` trained with labels by `train` on `data`, through the encoder cache.'),
        z.strictObject({ source: z.literal('path'), path: z.string().min(1) }).describe('A saved model folder, encoder cache entry or run folder (its body is the encoder).'),
        z.strictObject({ source: z.literal('random') }).describe('A randomly initialised `model` body (seed: the experiment seed).'),
      ], { error: 'expected encoder source pretrain, supervised, path or random' })
      .prefault({ source: 'pretrain' }),
    probe: z
      .strictObject({
        l2: nonNegative().default(1e-3).describe('λ of the victim objective mean CE + λ/2‖W‖² (known to the attacker).'),
        maxIter: positiveInt().default(500).describe('L-BFGS iterations (full batch, deterministic).'),
        tolerance: positive().default(1e-5),
        victim: z.enum(['exact', 'adam-standardized']).default('exact')
          .describe("exact: L-BFGS on the objective above; adam-standardized: src/train/probe.ts (standardised features, 300 Adam steps) — a victim the attacker did not model."),
      })
      .prefault({}),
    attacks: z.array(T1AttackEntrySchema, { error: 'expected a list of attacks' }).min(1, { error: 'expected at least one attack' }),
    epsilons: z.array(z.number().gt(0, { error: 'expected a budget in (0,1)' }).lt(1, { error: 'expected a budget in (0,1)' })).min(1).default([0.03]),
    seeds: z.array(seed()).min(1).optional().describe('Attack seeds (default: [seed]); the encoder and the clean probe do not depend on them.'),
    export: z.enum(['none', 'poisons', 'full']).default('poisons').describe('Per run: nothing, the poisons (NPY + manifest), or also the full poisoned training set as an NPY dataset.'),
    cacheDir: z.string().optional().describe('Encoder cache root (default $HEMLOCK_CACHE_DIR or .hemlock/cache).'),
  })
  .describe('T1: a victim trains a linear head on frozen features of clean ∪ εN poisons; reports the accuracy drop per attack, budget and seed.');

export const ExperimentSchema = z
  .strictObject({
    name: z.string().regex(/^[A-Za-z0-9._-]+$/, { error: 'expected letters, digits, . _ - only' }).default('experiment'),
    description: z.string().optional(),
    seed: seed().default(0),
    backend: z.enum(['auto', ...BACKEND_NAMES], { error: `expected one of auto, ${BACKEND_NAMES.join(', ')}` }).default('auto'),
    data: DataSchema,
    model: ModelSchema.prefault({}),
    train: TrainSchema.prefault({}),
    // T4 (issue 6): a training-data attack measured on victims trained with `model` and `train`.
    attack: AttackSectionSchema.optional(),
    // Issue 4: self-supervised pre-training → probe (dispatched to sslRunner when set).
    pretrain: PretrainSchema.optional(),
    probe: ProbeSchema.optional(),
    // Issue 5: T1 indiscriminate poisoning of a frozen encoder (dispatched to t1Runner when set).
    t1: T1Schema.optional(),
    // Backdoor attack + detection defenses on a victim trained from scratch (dispatched to backdoorRunner when set).
    backdoor: BackdoorSectionSchema.optional(),
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
