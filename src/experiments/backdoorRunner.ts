import { join } from 'node:path';
import { z } from 'zod';
import { tf } from '../engine/tf.js';
import { initBackend, describeBackend } from '../engine/backend.js';
import { HemlockInputError } from '../engine/errors.js';
import { Rng } from '../engine/rng.js';
import type { ImageDataset } from '../data/dataset.js';
import { buildModel, isModelName } from '../models/registry.js';
import type { Classifier } from '../models/classifier.js';
import { disposeModule } from '../models/module.js';
import { trainSupervised, type EpochRecord } from '../train/trainer.js';
import { evaluateClassifier } from '../train/evaluate.js';
import { auroc, detectionRates } from '../eval/metrics.js';
import { BACKDOOR_ATTACKS, getAttack } from '../attacks/registry.js';
import { attackSuccessRate, backdoorDetails } from '../attacks/badNets.js';
import type { AttackResult } from '../attacks/types.js';
import { getDefense, listDefenses } from '../defenses/registry.js';
import { galleryItem, writeRunGalleries } from '../report/images.js';
import { loadExperimentData, modelSpecFor, supervisedRecipeOf } from './data.js';
import type { Experiment } from './schema.js';
import type { RunOptions, RunResult, TrainMetrics } from './runner.js';
import { openRun } from './openRun.js';

/**
 * A backdoor experiment (BadNets-style, victim trained from scratch):
 *
 *   backdoor:
 *     attack: {name: badnets, rate: 0.1, targetClass: 0, trigger: {kind: patch, size: 4}}
 *     defenses: [{name: spectral-signatures, epsilon: 0.3}, {name: activation-clustering}]
 *     victim: from-scratch   # `model` trained with `train` on the poisoned set
 *     clean: true            # also train on the clean set (cleanAccuracy, asrBaseline)
 *     gallery: 8             # poisoned samples saved beside their clean originals
 *
 * The attack crafts the poisoned training set; the victim (`model`, trained
 * with `train`, seed `seed`) is trained on it and measured for clean test
 * accuracy and ASR (ALGORITHMS.md §0); each defense scores the poisoned set
 * with the victim's features, and a new victim is retrained on what it kept.
 * Every training checkpoints per epoch (when `train.checkpoint`), so an
 * interrupted run resumes.
 */

export { BACKDOOR_ATTACKS };

const named = <T extends { name: string }>(what: string, known: () => string[], schemaOf: (name: string) => z.ZodType) =>
  z
    .looseObject({ name: z.string({ error: `expected a ${what} name` }) })
    .transform((v, ctx) => {
      const { name, ...options } = v as T & Record<string, unknown>;
      if (!known().includes(name)) {
        ctx.addIssue({ code: 'custom', path: ['name'], message: `unknown ${what} '${name}' (known: ${known().join(', ')})`, input: name });
        return z.NEVER;
      }
      const r = schemaOf(name).safeParse(options);
      if (!r.success) {
        for (const issue of r.error.issues) ctx.addIssue({ code: 'custom', path: issue.path as (string | number)[], message: issue.message, input: (issue as { input?: unknown }).input });
        return z.NEVER;
      }
      return { name, options: r.data as Record<string, unknown> };
    });

export const BackdoorSectionSchema = z
  .strictObject({
    attack: named('backdoor attack', () => [...BACKDOOR_ATTACKS], (n) => getAttack(n).configSchema)
      .describe('The backdoor attack and its options, e.g. {name: badnets, rate: 0.1, targetClass: 0, trigger: {kind: patch, size: 4}}.'),
    defenses: z
      .array(named('defense', () => listDefenses().map((d) => d.name), (n) => getDefense(n).configSchema), { error: 'expected a list of defenses' })
      .default([])
      .describe('Detection defenses, each {name, ...options}; each one is scored and its kept set retrained on.'),
    victim: z.literal('from-scratch', { error: "expected 'from-scratch'" }).default('from-scratch')
      .describe('The victim: `model` trained from scratch with `train` on the poisoned set.'),
    clean: z.boolean().default(true).describe('Also train on the clean set (cleanAccuracy, asrBaseline); costs one training.'),
    gallery: z.number().int().min(0).default(8).describe('Poisoned samples saved beside their clean originals (artifacts/gallery.json).'),
  })
  .describe('Backdoor experiment: poison the training set, train the victim, measure clean accuracy and ASR, run detection defenses and retrain on what they keep.');
export type BackdoorSection = z.output<typeof BackdoorSectionSchema>;

export interface DefenseOutcome {
  defense: string;
  options: Record<string, unknown>;
  auroc: number;
  /** Fraction of the poisons the defense removed. */
  tpr: number;
  /** Fraction of the clean samples the defense removed. */
  fpr: number;
  removed: number;
  removedPoisons: number;
  retrainedAccuracy: number;
  retrainedAsr: number;
  /** ROC of the scores (at most ~200 points), for the report. */
  roc: { fpr: number[]; tpr: number[] };
}

export interface BackdoorMetrics extends TrainMetrics {
  kind: 'backdoor';
  attack: string;
  attackOptions: Record<string, unknown>;
  targetClass: number;
  trigger: string;
  poisons: number;
  trainCount: number;
  /** Clean test accuracy of the model trained on clean data (clean: true), else absent. */
  cleanAccuracy?: number;
  /** Clean test accuracy of the backdoored victim. */
  poisonedAccuracy: number;
  /** ASR of the backdoored victim on the triggered test set (target class excluded). */
  asr: number;
  /** ASR of the clean model (clean: true). */
  asrBaseline?: number;
  /** Per defense, by name. */
  defenses: Record<string, DefenseOutcome>;
  wallSeconds: number;
}

/** ROC points (fpr, tpr) of scores, thresholds at every distinct score, thinned to ≤ maxPoints. */
export function rocCurve(scores: ArrayLike<number>, isPoison: ArrayLike<boolean | number>, maxPoints = 200): { fpr: number[]; tpr: number[] } {
  const idx = Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[b]! - scores[a]!);
  let pos = 0;
  for (let i = 0; i < scores.length; i++) if (isPoison[i]) pos++;
  const neg = scores.length - pos;
  const fpr = [0];
  const tpr = [0];
  let tp = 0;
  let fp = 0;
  for (let k = 0; k < idx.length; k++) {
    if (isPoison[idx[k]!]) tp++;
    else fp++;
    if (k + 1 < idx.length && scores[idx[k + 1]!] === scores[idx[k]!]) continue;
    fpr.push(neg ? fp / neg : 0);
    tpr.push(pos ? tp / pos : 0);
  }
  if (fpr.length <= maxPoints) return { fpr, tpr };
  const step = (fpr.length - 1) / (maxPoints - 1);
  const keep = Array.from({ length: maxPoints }, (_, i) => Math.round(i * step));
  return { fpr: keep.map((i) => fpr[i]!), tpr: keep.map((i) => tpr[i]!) };
}

async function saveGallery(artifactsDir: string, train: ImageDataset, result: AttackResult, count: number, targetClass: number, triggerName: string): Promise<void> {
  if (count === 0) return;
  const src = result.details.sourceIndices as Int32Array | undefined;
  const items = [];
  for (let j = 0; j < Math.min(count, result.poisonIndices.length); j++) {
    const i = result.poisonIndices[j]!;
    const o = src ? src[j]! : i;
    items.push(
      await galleryItem({
        clean: train.image(o),
        poisoned: result.poisonedTrain.image(i),
        height: train.height,
        width: train.width,
        channels: train.channels,
        caption: `#${o}: ${train.classNames[train.labels[o]!]} → labelled ${train.classNames[targetClass]}`,
      }),
    );
  }
  await writeRunGalleries(artifactsDir, [
    { title: `${result.attack} poisons`, description: `Trigger: ${triggerName}; ${result.poisonIndices.length} poisons relabelled to '${train.classNames[targetClass]}'.`, items },
  ]);
}

export async function runBackdoorExperiment(exp: Experiment & { backdoor?: BackdoorSection }, opts: RunOptions = {}): Promise<RunResult> {
  const section = exp.backdoor;
  if (!section) throw new Error('runBackdoorExperiment: the spec has no backdoor section');
  const backend = await initBackend(exp.backend === 'auto' ? undefined : exp.backend);
  const { train, test } = await loadExperimentData(exp.data, exp.seed);
  if (!isModelName(exp.model.architecture)) throw new HemlockInputError(`model.architecture: unknown model '${exp.model.architecture}'`);
  const { record, resumed, log } = await openRun(exp, backend, opts);
  const t0 = performance.now();
  try {
    log(`${describeBackend(backend)}; run ${record.manifest.runId}${resumed ? ' (resuming)' : ''}`);
    log(`data: ${exp.data.dataset} train ${train.count} × ${train.shape.slice(1).join('×')}, test ${test.count}, ${train.numClasses} classes`);
    const spec = modelSpecFor(exp, { train, test });
    const recipe = supervisedRecipeOf(exp);
    /** Trains a fresh victim (same architecture, init seed and recipe) on `data`; the caller disposes it. */
    const trainVictim = async (what: string, data: ImageDataset): Promise<{ model: Classifier; history: EpochRecord[]; seconds: number }> => {
      const model = buildModel(spec, exp.seed);
      const s0 = performance.now();
      try {
        const r = await trainSupervised(model, data, recipe, {
          ...(opts.onStep ? { onStep: opts.onStep } : {}),
          ...(exp.train.checkpoint ? { checkpointDir: join(record.dir, `checkpoint-${what}`) } : {}),
          onResume: (e) => log(`${what}: resumed from the checkpoint after epoch ${e}`),
          onEpochEnd: (epoch) => log(`${what}: epoch ${epoch}/${recipe.epochs}`),
        });
        return { model, history: r.history, seconds: (performance.now() - s0) / 1000 };
      } catch (e) {
        disposeModule(model);
        throw e;
      }
    };

    // 1. The attack.
    const attack = getAttack(section.attack.name);
    const result = await attack.craft({ train, test, rng: new Rng(`${exp.seed}/backdoor/attack`) }, section.attack.options);
    const { targetClass, trigger } = backdoorDetails(result);
    const triggerName = String(result.details.triggerName ?? trigger.kind);
    const isPoison = new Uint8Array(result.poisonedTrain.count);
    for (const i of result.poisonIndices) isPoison[i] = 1;
    log(`attack: ${section.attack.name} ${result.poisonIndices.length} poisons (${result.added ? 'added' : 'substituted'}) → '${train.classNames[targetClass]}', trigger ${triggerName}`);
    await saveGallery(record.artifactsDir, train, result, section.gallery, targetClass, triggerName);

    // 2. The backdoored victim.
    const victim = await trainVictim('poisoned', result.poisonedTrain);
    let metrics: BackdoorMetrics;
    try {
      const testEval = evaluateClassifier(victim.model, test, train.numClasses);
      const trainEval = evaluateClassifier(victim.model, result.poisonedTrain, train.numClasses);
      const asr = attackSuccessRate(victim.model, test, trigger, targetClass);
      log(`poisoned victim: clean accuracy ${(testEval.accuracy * 100).toFixed(2)}%, ASR ${(asr * 100).toFixed(2)}% (${victim.seconds.toFixed(0)} s)`);

      // 3. The clean reference.
      let cleanAccuracy: number | undefined;
      let asrBaseline: number | undefined;
      if (section.clean) {
        const clean = await trainVictim('clean', train);
        try {
          cleanAccuracy = evaluateClassifier(clean.model, test, train.numClasses).accuracy;
          asrBaseline = attackSuccessRate(clean.model, test, trigger, targetClass);
          log(`clean model: accuracy ${(cleanAccuracy * 100).toFixed(2)}%, ASR ${(asrBaseline * 100).toFixed(2)}%`);
        } finally {
          disposeModule(clean.model);
        }
      }

      // 4. Defenses: score with the victim's features, retrain on what they keep.
      const defenses: Record<string, DefenseOutcome> = {};
      for (const entry of section.defenses) {
        const defense = getDefense(entry.name);
        const det = await defense.detect(result, { model: victim.model, rng: new Rng(`${exp.seed}/backdoor/defense/${entry.name}`) }, entry.options);
        const kept = new Uint8Array(result.poisonedTrain.count);
        for (const i of det.kept) kept[i] = 1;
        const flagged = Float32Array.from(kept, (k) => 1 - k);
        const { tpr, fpr } = detectionRates(flagged, isPoison, 0.5);
        const removed = result.poisonedTrain.count - det.kept.length;
        let removedPoisons = 0;
        for (const i of result.poisonIndices) if (!kept[i]) removedPoisons++;
        const a = auroc(det.scores, isPoison);
        log(`${entry.name}: AUROC ${a.toFixed(3)}, removed ${removed} (${removedPoisons}/${result.poisonIndices.length} poisons; TPR ${tpr.toFixed(3)}, FPR ${fpr.toFixed(3)})`);
        const retrained = await trainVictim(`retrain-${entry.name}`, result.poisonedTrain.subset(det.kept));
        try {
          const retrainedAccuracy = evaluateClassifier(retrained.model, test, train.numClasses).accuracy;
          const retrainedAsr = attackSuccessRate(retrained.model, test, trigger, targetClass);
          log(`${entry.name}: retrained accuracy ${(retrainedAccuracy * 100).toFixed(2)}%, ASR ${(retrainedAsr * 100).toFixed(2)}%`);
          defenses[entry.name] = {
            defense: entry.name,
            options: entry.options,
            auroc: a,
            tpr,
            fpr,
            removed,
            removedPoisons,
            retrainedAccuracy,
            retrainedAsr,
            roc: rocCurve(det.scores, isPoison),
          };
        } finally {
          disposeModule(retrained.model);
        }
      }

      const wallSeconds = (performance.now() - t0) / 1000;
      metrics = {
        kind: 'backdoor',
        attack: section.attack.name,
        attackOptions: section.attack.options,
        targetClass,
        trigger: triggerName,
        poisons: result.poisonIndices.length,
        trainCount: result.poisonedTrain.count,
        ...(cleanAccuracy !== undefined ? { cleanAccuracy } : {}),
        poisonedAccuracy: testEval.accuracy,
        asr,
        ...(asrBaseline !== undefined ? { asrBaseline } : {}),
        defenses,
        wallSeconds,
        // The fields every run reports (TrainMetrics), for the backdoored victim.
        testAccuracy: testEval.accuracy,
        trainAccuracy: trainEval.accuracy,
        perClassAccuracy: testEval.perClassAccuracy,
        confusion: testEval.confusion,
        classNames: test.classNames,
        finalLoss: victim.history.at(-1)?.loss ?? NaN,
        epochs: recipe.epochs,
        trainSeconds: victim.seconds,
        history: victim.history,
        seed: exp.seed,
        backend: backend.name,
        dataset: exp.data.dataset,
        model: exp.model.architecture,
      };
    } finally {
      disposeModule(victim.model);
    }
    await record.complete(metrics);
    log(`done: ${metrics.wallSeconds.toFixed(0)} s; numTensors ${tf.memory().numTensors}`);
    return { runDir: record.dir, runId: record.manifest.runId, metrics, resumed };
  } catch (e) {
    await record.fail(e);
    throw e;
  }
}
