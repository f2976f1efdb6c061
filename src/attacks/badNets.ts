import { z } from 'zod';
import { HemlockInputError } from '../engine/errors.js';
import type { Rng } from '../engine/rng.js';
import { ImageDataset } from '../data/dataset.js';
import type { Module } from '../models/module.js';
import { predictLabels } from '../train/evaluate.js';
import { attackSuccessRate as asrOf } from '../eval/metrics.js';
import { seedOf } from './t1/common.js';
import { TriggerSchema, buildTrigger, type Trigger, type TriggerConfig, type TriggerInput } from './triggers/index.js';
import type { Attack, AttackResult } from './types.js';

/**
 * BadNets (Gu, Dolan-Gavitt, Garg 2017): a poison-label backdoor. The attacker
 * picks a seeded `rate`·N of the training samples whose label is not the
 * target class (optionally only of one source class), stamps the trigger on
 * them and relabels them to `targetClass`. By default the poisons replace
 * their clean originals (the training set keeps its size, as in the paper);
 * with `mode: 'add'` triggered copies are appended instead.
 *
 * A victim trained on the result classifies clean inputs normally and inputs
 * carrying the trigger as the target class. `details` holds the resolved
 * trigger config and the target class, so an evaluation can rebuild the
 * triggered test set (`triggeredTestSet`) from the artifact alone.
 */
export const BadNetsSchema = z.strictObject({
  rate: z.number().gt(0).lt(1).default(0.1).describe('Poisons as a fraction of the (clean) training set size N.'),
  targetClass: z.number().int().min(0).default(0).describe('Class the trigger maps to.'),
  source: z.union([z.literal('all'), z.number().int().min(0)]).default('all')
    .describe("Draw poisons from every non-target class ('all') or from one source class."),
  trigger: TriggerSchema.prefault({ kind: 'patch' }).describe('Trigger config (patch, blend or noise).'),
  mode: z.enum(['substitute', 'add']).default('substitute').describe('Replace the chosen samples (BadNets) or append triggered copies.'),
});
export type BadNetsConfig = z.output<typeof BadNetsSchema>;
export type BadNetsInput = z.input<typeof BadNetsSchema>;

/** Applies a trigger to every image of a dataset (labels unchanged). */
export function triggerDataset(d: ImageDataset, trigger: Trigger, name?: string): ImageDataset {
  const images = trigger.apply(d.images, d.shape);
  return new ImageDataset(
    { images, labels: new Int32Array(d.labels), height: d.height, width: d.width, channels: d.channels, classNames: d.classNames, name: name ?? `${d.name}+trigger` },
    { trustedPixels: true },
  );
}

/**
 * The triggered test set of ALGORITHMS.md §0: the test samples whose true
 * label ≠ targetClass, each stamped with the trigger, keeping its true label.
 */
export function triggeredTestSet(test: ImageDataset, trigger: Trigger | TriggerInput, targetClass: number): ImageDataset {
  const t = 'apply' in trigger ? trigger : buildTrigger(trigger);
  const keep: number[] = [];
  for (let i = 0; i < test.count; i++) if (test.labels[i] !== targetClass) keep.push(i);
  return triggerDataset(test.subset(keep), t, `${test.name}+trigger`);
}

/**
 * Backdoor ASR of a model: on the triggered test set (target-class samples
 * dropped), the fraction predicted as targetClass (eval/metrics).
 */
export function attackSuccessRate(model: Module, test: ImageDataset, trigger: Trigger | TriggerInput, targetClass: number): number {
  const triggered = triggeredTestSet(test, trigger, targetClass);
  return asrOf(predictLabels(model, triggered), triggered.labels, targetClass);
}

/** The BadNets details an evaluation needs, read back from an attack result. */
export function backdoorDetails(result: AttackResult): { targetClass: number; trigger: TriggerConfig } {
  const d = result.details as { targetClass?: unknown; trigger?: unknown };
  if (typeof d.targetClass !== 'number' || !d.trigger) throw new HemlockInputError(`${result.attack}: the attack result has no targetClass/trigger details (not a backdoor)`);
  return { targetClass: d.targetClass, trigger: TriggerSchema.parse(d.trigger) };
}

export async function craftBadNets(ctx: { train: ImageDataset; rng: Rng }, config: BadNetsConfig): Promise<AttackResult> {
  const { train, rng } = ctx;
  const k = train.numClasses;
  if (config.targetClass >= k) throw new HemlockInputError(`attack.targetClass: class ${config.targetClass} does not exist (${k} classes)`);
  if (config.source !== 'all') {
    if (config.source >= k) throw new HemlockInputError(`attack.source: class ${config.source} does not exist (${k} classes)`);
    if (config.source === config.targetClass) throw new HemlockInputError(`attack.source: the source class must differ from the target class ${config.targetClass}`);
  }
  const trigger = buildTrigger(config.trigger, 'attack.trigger');
  const eligible: number[] = [];
  for (let i = 0; i < train.count; i++) {
    const y = train.labels[i]!;
    if (y !== config.targetClass && (config.source === 'all' || y === config.source)) eligible.push(i);
  }
  const p = Math.max(1, Math.round(config.rate * train.count));
  if (p > eligible.length) {
    throw new HemlockInputError(`attack.rate: ${config.rate} of ${train.count} samples is ${p} poisons, but only ${eligible.length} samples are eligible (label ≠ target${config.source === 'all' ? '' : `, = source ${config.source}`})`);
  }
  const pick = rng.fork('poisons').sample(eligible.length, p);
  const sources = Int32Array.from(pick, (j) => eligible[j]!).sort();
  const clean = train.subset(sources);
  const stamped = trigger.apply(clean.images, clean.shape);
  const per = train.imageSize;
  const linfNorms = new Float32Array(p);
  for (let j = 0; j < p; j++) {
    let m = 0;
    for (let q = j * per; q < (j + 1) * per; q++) m = Math.max(m, Math.abs(stamped[q]! - clean.images[q]!));
    linfNorms[j] = m;
  }
  const name = `${train.name}+badnets`;
  let poisonedTrain: ImageDataset;
  let poisonIndices: Int32Array;
  if (config.mode === 'substitute') {
    const images = Float32Array.from(train.images);
    const labels = Int32Array.from(train.labels);
    for (let j = 0; j < p; j++) {
      images.set(stamped.subarray(j * per, (j + 1) * per), sources[j]! * per);
      labels[sources[j]!] = config.targetClass;
    }
    poisonedTrain = new ImageDataset({ images, labels, height: train.height, width: train.width, channels: train.channels, classNames: train.classNames, name }, { trustedPixels: true });
    poisonIndices = Int32Array.from(sources);
  } else {
    const poisons = new ImageDataset(
      { images: stamped, labels: new Int32Array(p).fill(config.targetClass), height: train.height, width: train.width, channels: train.channels, classNames: train.classNames, name },
      { trustedPixels: true },
    );
    poisonedTrain = train.concat(poisons, name);
    poisonIndices = Int32Array.from({ length: p }, (_, j) => train.count + j);
  }
  return {
    attack: 'badnets',
    config: { ...config },
    seed: seedOf(rng),
    poisonedTrain,
    poisonIndices,
    added: config.mode === 'add',
    linfNorms,
    details: {
      targetClass: config.targetClass,
      trigger: TriggerSchema.parse(config.trigger),
      triggerName: trigger.name,
      source: config.source,
      poisonCount: p,
      sourceIndices: sources,
      originalLabels: Int32Array.from(sources, (i) => train.labels[i]!),
    },
  };
}

export const badNetsAttack: Attack<typeof BadNetsSchema> = {
  info: {
    name: 'badnets',
    title: 'BadNets: poison-label backdoor (trigger stamped on a fraction of the training set, relabelled to the target class)',
    paper: 'Gu, Dolan-Gavitt, Garg, "BadNets: Identifying Vulnerabilities in the Machine Learning Model Supply Chain", arXiv 1708.06733 (2017)',
    // The victim trains a model from scratch on a training set the attacker
    // edited: that is the 'training-data' stage, whose threat model in this
    // codebase is T4 (SPEC.md §2 lists T4 as clean-label *targeted* poisoning;
    // BadNets differs in changing labels and in being a trigger backdoor, but
    // T3's SSL pre-training and T1's frozen encoder fit it less). It applies
    // unchanged to a labelled downstream set (stage 'downstream-data').
    capabilities: { needsGradients: false, needsLabels: true, controlsPretraining: false, modality: 'image', stage: 'training-data', threatModel: 'T4' },
    fidelity: 'partial',
    fidelityNote:
      'Mechanism as in the paper (patch trigger, relabelled poisons, substitution). Measured at small scale only: ' +
      'experiments/backdoor/badnets-mini.yaml (ConvNet-S, 4 epochs, 5% poisons, 3×3 checkerboard, all 10 fashion-mnist-mini classes): ' +
      'ASR 98.6% vs 2.7% for the clean model, clean accuracy 77.9% vs 78.3%; badnets-resnet-4class.yaml: ASR 100% vs 0.7%, accuracy 97.25% both. ' +
      "The paper's MNIST / traffic-sign experiments are not reproduced.",
  },
  configSchema: BadNetsSchema,
  craft: (ctx, config) => craftBadNets(ctx, config),
};
