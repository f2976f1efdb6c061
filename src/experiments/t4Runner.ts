import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tf } from '../engine/tf.js';
import { initBackend, describeBackend } from '../engine/backend.js';
import { HemlockInputError } from '../engine/errors.js';
import { Rng } from '../engine/rng.js';
import { sha256, writeJsonAtomic } from '../engine/files.js';
import { readNpy, writeNpy } from '../data/npy.js';
import type { ImageDataset } from '../data/dataset.js';
import { isModelName } from '../models/registry.js';
import { getAttack } from '../attacks/registry.js';
import { claimFile } from '../attacks/brewingModel.js';
import type { AttackSection } from '../attacks/section.js';
import { applyPoisons, craftRandomNoise, craftWitchesBrew, parseWitchesBrewConfig, RandomNoiseConfigSchema } from '../attacks/witchesBrew.js';
import type { AttackResult } from '../attacks/types.js';
import { retrainVictims, summarizeTrials, type VictimSummary, type VictimTrial } from '../eval/victimRetraining.js';
import { loadExperimentData, modelSpecFor, supervisedRecipeOf } from './data.js';
import type { Experiment } from './schema.js';
import type { RunOptions, RunResult, TrainMetrics } from './runner.js';
import { openRun } from './openRun.js';
import { canonicalJson } from './records.js';
import { defaultCacheDir } from './encoderCache.js';
import { packageVersion } from './environment.js';

/**
 * A T4 experiment (targeted poisoning of training from scratch): for each of
 * `evaluation.setups` setups (seeded `<seed>/t4/setup/<s>`), craft the attack on
 * the clean training set, retrain `evaluation.retrainings` victims from scratch
 * with the spec's model and training recipe, and record whether the target
 * lands in the adversarial class; optionally the same for random ℓ∞ noise on
 * the same poison indices (paired: the same victim seeds). The brewing models
 * are trained with the same recipe as the victims (as in the reference) and
 * cached across setups and runs.
 *
 * Resumable at the trial level: crafted poisons and every finished trial are
 * written to artifacts/setup-XX/ as they complete.
 */

export interface T4SetupRecord {
  setup: number;
  targetIndex: number;
  targetTrueClass: number;
  adversarialClass: number;
  poisonClass: number | null;
  poisonIndices: number[];
  maxLinf: number;
  details: Record<string, unknown>;
  attackTrials: VictimTrial[];
  baselineTrials: VictimTrial[];
}

export interface T4Metrics extends TrainMetrics {
  kind: 't4';
  attack: string;
  attackSummary: VictimSummary;
  baselineSummary: VictimSummary | null;
  setups: T4SetupRecord[];
  options: Record<string, unknown>;
  evaluation: AttackSection['evaluation'];
  victimEpochs: number;
  wallSeconds: number;
}

async function readJson<T>(path: string): Promise<T | null> {
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as T) : null;
}

/** The poisoned training set from the clean one and the saved poisoned images. */
async function loadCrafted(train: ImageDataset, dir: string, indices: Int32Array): Promise<ImageDataset> {
  const x = await readNpy(join(dir, 'poisons.npy'));
  const per = train.imageSize;
  const delta = new Float32Array(indices.length * per);
  const data = x.data as Float32Array;
  for (let k = 0; k < indices.length; k++) for (let j = 0; j < per; j++) delta[k * per + j] = data[k * per + j]! - train.images[indices[k]! * per + j]!;
  return applyPoisons(train, indices, delta).poisoned;
}

/** Bump when crafting changes what a cached setup would contain. */
const T4_POISON_CACHE_FORMAT = 1;
const CRAFTED_FILES = ['poisons.npy', 'loss-history.json', 'crafted.json'];

/**
 * Stage cache for brewed poisons: a setup's poisons depend only on the data,
 * the seed, the setup index, the attack and its options, the brewing model and
 * recipe — not on how many victims are retrained — so every run of a sweep
 * that shares those (e.g. over retrainings or victim recipes with an explicit
 * brewing recipe) brews each setup once. Entries are whole folders, renamed
 * into place, so a partial entry is never read.
 */
function poisonCacheDir(cacheRoot: string, key: unknown): string {
  return join(cacheRoot, 'poisons', sha256(canonicalJson({ format: T4_POISON_CACHE_FORMAT, key })));
}

function restoreCrafted(entry: string, dir: string): boolean {
  if (!existsSync(join(entry, 'crafted.json'))) return false;
  mkdirSync(dir, { recursive: true });
  for (const f of CRAFTED_FILES) if (existsSync(join(entry, f))) copyFileSync(join(entry, f), join(dir, f));
  return true;
}

function storeCrafted(dir: string, entry: string): void {
  if (existsSync(entry)) return;
  const tmp = `${entry}.tmp-${process.pid}-${Date.now()}`;
  mkdirSync(tmp, { recursive: true });
  for (const f of CRAFTED_FILES) if (existsSync(join(dir, f))) copyFileSync(join(dir, f), join(tmp, f));
  try {
    renameSync(tmp, entry);
  } catch {
    rmSync(tmp, { recursive: true, force: true }); // another worker stored it first
  }
}

export async function runT4Experiment(exp: Experiment & { attack?: AttackSection }, opts: RunOptions = {}): Promise<RunResult> {
  const section = exp.attack;
  if (!section) throw new Error('runT4Experiment: the spec has no attack section');
  const attack = getAttack(section.name);
  if (attack.info.capabilities.stage !== 'training-data') {
    throw new HemlockInputError(`attack.name: '${section.name}' is a ${attack.info.capabilities.threatModel} attack; the T4 runner takes training-data attacks`);
  }
  const backend = await initBackend(exp.backend === 'auto' ? undefined : exp.backend);
  const { train, test } = await loadExperimentData(exp.data, exp.seed);
  if (!isModelName(exp.model.architecture)) throw new HemlockInputError(`model.architecture: unknown model '${exp.model.architecture}'`);
  const { record, resumed, log } = await openRun(exp, backend, opts);
  const t0 = performance.now();
  try {
    log(`${describeBackend(backend)}; run ${record.manifest.runId}${resumed ? ' (resuming)' : ''}`);
    log(`data: ${exp.data.dataset} train ${train.count} × ${train.shape.slice(1).join('×')}, test ${test.count}, ${train.numClasses} classes`);
    const spec = modelSpecFor(exp, { train, test });
    // Each victim and brewing model gets its own seed.
    const { seed: _seed, ...recipe } = supervisedRecipeOf(exp);
    const { evaluation } = section;
    const setupDir = (s: number) => join(record.artifactsDir, `setup-${String(s).padStart(2, '0')}`);
    const baselineWanted = evaluation.baseline === 'none' ? 0 : (evaluation.baselineRetrainings ?? evaluation.retrainings);
    const isComplete = (r: T4SetupRecord | null): r is T4SetupRecord =>
      !!r && r.attackTrials.length >= evaluation.retrainings && r.baselineTrials.length >= baselineWanted;
    const runSetup = async (s: number): Promise<T4SetupRecord> => {
      const dir = setupDir(s);
      const file = join(dir, 'setup.json');
      const rng = new Rng(`${exp.seed}/t4/setup/${s}`);
      const { cacheDir: _ignored, ...attackOptions } = section.options as Record<string, unknown>;
      const cacheEntry = poisonCacheDir(opts.cacheDir ?? defaultCacheDir(), {
        data: exp.data,
        seed: exp.seed,
        setup: s,
        attack: section.name,
        options: attackOptions,
        model: exp.model,
        recipe,
        hemlock: packageVersion(),
      });
      let rec = await readJson<T4SetupRecord>(file);
      if (!rec && restoreCrafted(cacheEntry, dir)) {
        const crafted = await readJson<T4SetupRecord>(join(dir, 'crafted.json'));
        if (crafted) {
          rec = { ...crafted, attackTrials: [], baselineTrials: [] };
          await writeJsonAtomic(file, rec);
          log(`setup ${s + 1}/${evaluation.setups}: poisons from the stage cache (${cacheEntry})`);
        }
      }
      let poisoned: ImageDataset;
      if (rec) {
        poisoned = await loadCrafted(train, dir, Int32Array.from(rec.poisonIndices));
        log(`setup ${s + 1}/${evaluation.setups}: poisons loaded from ${dir}`);
      } else {
        let result: AttackResult;
        if (section.name === 'witches-brew') {
          // The spec's model is the brewing model; unless the attack names its own
          // brewing recipe, the brewing models train like the victims.
          const cfg = parseWitchesBrewConfig({ ...section.options, model: exp.model, ...(opts.cacheDir && !(section.options as { cacheDir?: string }).cacheDir ? { cacheDir: opts.cacheDir } : {}) }, 'attack');
          const hasOwnRecipe = (section as { options: { brewing?: unknown } }).options.brewing !== undefined;
          result = await craftWitchesBrew({ train, test, rng }, cfg, {
            onLog: log,
            ...(hasOwnRecipe ? {} : { brewingRecipe: recipe }),
            onProgress: (p) => {
              if (p.brew && (p.brew.step === 1 || p.brew.step % 50 === 0)) log(`setup ${s + 1}: restart ${p.brew.restart}/${p.brew.restarts} step ${p.brew.step}/${p.brew.steps} matching loss ${p.brew.loss.toFixed(4)}`);
              if (p.model && p.model.progress.step === p.model.progress.stepsPerEpoch) log(`brewing model ${p.model.index}/${p.model.of}: epoch ${p.model.progress.epoch}/${p.model.progress.epochs} loss ${p.model.progress.loss.toFixed(4)}`);
            },
          });
        } else {
          result = await attack.craft({ train, test, rng }, section.options);
        }
        const d = result.details as Record<string, unknown>;
        const px = result.poisonedTrain.subset(result.poisonIndices).images;
        await writeNpy(join(dir, 'poisons.npy'), { dtype: 'f4', shape: [result.poisonIndices.length, train.height, train.width, train.channels], data: px });
        rec = {
          setup: s,
          targetIndex: d.targetIndex as number,
          targetTrueClass: d.targetTrueClass as number,
          adversarialClass: d.adversarialClass as number,
          poisonClass: (d.poisonClass as number | null) ?? null,
          poisonIndices: Array.from(result.poisonIndices),
          maxLinf: (result.linfNorms ?? new Float32Array()).reduce((a, b) => Math.max(a, b), 0),
          details: Object.fromEntries(Object.entries(d).filter(([k]) => k !== 'lossHistory')),
          attackTrials: [],
          baselineTrials: [],
        };
        if (Array.isArray(d.lossHistory)) await writeJsonAtomic(join(dir, 'loss-history.json'), d.lossHistory);
        await writeJsonAtomic(file, rec);
        await writeJsonAtomic(join(dir, 'crafted.json'), rec);
        storeCrafted(dir, cacheEntry);
        poisoned = result.poisonedTrain;
        log(
          `setup ${s + 1}/${evaluation.setups}: target #${rec.targetIndex} (${test.classNames[rec.targetTrueClass]}) → ${train.classNames[rec.adversarialClass]}, ` +
            `${rec.poisonIndices.length} poisons, max ‖δ‖∞ ${(rec.maxLinf * 255).toFixed(2)}/255` +
            (typeof d.finalLoss === 'number' ? `, matching loss ${(d.initialLoss as number).toFixed(4)} → ${d.finalLoss.toFixed(4)}` : ''),
        );
      }
      const current = rec;
      const setup = { test, targetIndex: current.targetIndex, targetTrueClass: current.targetTrueClass, adversarialClass: current.adversarialClass, poisonIndices: current.poisonIndices };
      const runTrials = async (kind: 'attack' | 'baseline', data: ImageDataset) => {
        const done = kind === 'attack' ? current.attackTrials : current.baselineTrials;
        const wanted = kind === 'attack' ? evaluation.retrainings : baselineWanted;
        for (let r = done.length; r < wanted; r++) {
          // One victim at a time so every finished trial is saved before the next starts.
          const [trial] = await retrainVictims({ ...setup, train: data }, { model: spec, train: recipe }, {
            retrainings: 1,
            seed: exp.seed,
            setupIndex: s * 1000 + r,
            ...(opts.onStep ? { onStep: (_r: number, p: Parameters<NonNullable<RunOptions['onStep']>>[0]) => opts.onStep!(p) } : {}),
          });
          const t = { ...trial!, setup: s, retrain: r };
          done.push(t);
          await writeJsonAtomic(file, current);
          log(
            `setup ${s + 1} ${kind} victim ${r + 1}/${wanted}: target → ${test.classNames[t.predicted]} ` +
              `(${t.success ? 'SUCCESS' : 'no'}, p_adv ${t.adversarialProbability.toFixed(3)}), validation accuracy ${(t.validationAccuracy * 100).toFixed(2)}%` +
              (t.poisonAccuracy !== undefined ? `, fits ${(t.poisonAccuracy * 100).toFixed(0)}% of the poisons (train ${(t.trainAccuracy! * 100).toFixed(1)}%)` : '') +
              `, ${t.trainSeconds.toFixed(0)} s`,
          );
        }
      };
      await runTrials('attack', poisoned);
      if (evaluation.baseline === 'random-noise') {
        const noiseCfg = RandomNoiseConfigSchema.parse(Object.fromEntries(Object.entries(section.options).filter(([k]) => k in RandomNoiseConfigSchema.shape)));
        const noise = await craftRandomNoise({ train, test, rng }, noiseCfg);
        if (noise.poisonIndices.join(',') !== current.poisonIndices.join(',')) throw new Error('t4: the baseline chose other poison indices than the attack');
        await runTrials('baseline', noise.poisonedTrain);
      }
      return current;
    };
    // Several processes may run the same spec at once (same run folder): each
    // claims a setup before working on it and skips setups claimed by a live
    // process, then waits for them (taking over if their process died).
    const records = new Map<number, T4SetupRecord>();
    const pending: number[] = [];
    for (let s = 0; s < evaluation.setups; s++) {
      const done = await readJson<T4SetupRecord>(join(setupDir(s), 'setup.json'));
      if (isComplete(done)) records.set(s, done);
      else if (claimFile(join(setupDir(s), 'claim.pid'))) records.set(s, await runSetup(s));
      else {
        pending.push(s);
        log(`setup ${s + 1}/${evaluation.setups}: claimed by another live process; skipping for now`);
      }
    }
    while (pending.length > 0) {
      await new Promise((r) => setTimeout(r, 20_000));
      for (const s of pending.slice()) {
        const done = await readJson<T4SetupRecord>(join(setupDir(s), 'setup.json'));
        if (isComplete(done)) records.set(s, done);
        else if (claimFile(join(setupDir(s), 'claim.pid'))) records.set(s, await runSetup(s));
        else continue;
        pending.splice(pending.indexOf(s), 1);
      }
    }
    const setups = Array.from({ length: evaluation.setups }, (_, s) => records.get(s)!);
    const attackSummary = summarizeTrials(setups.flatMap((r) => r.attackTrials));
    const baselineSummary = evaluation.baseline === 'random-noise' ? summarizeTrials(setups.flatMap((r) => r.baselineTrials)) : null;
    const wallSeconds = (performance.now() - t0) / 1000;
    const rate = (v: number) => (Number.isNaN(v) ? 0 : v);
    const metrics: T4Metrics = {
      kind: 't4',
      attack: section.name,
      attackSummary,
      baselineSummary,
      setups,
      options: section.options,
      evaluation,
      victimEpochs: recipe.epochs,
      wallSeconds,
      // The fields every run reports (TrainMetrics): the victims' validation
      // accuracy stands for test accuracy; the "classes" are the two rows.
      testAccuracy: attackSummary.validationAccuracy,
      trainAccuracy: NaN,
      perClassAccuracy: [rate(attackSummary.targetSuccess), ...(baselineSummary ? [rate(baselineSummary.targetSuccess)] : [])],
      confusion: [],
      classNames: [`target success: ${section.name}`, ...(baselineSummary ? ['target success: random-noise'] : [])],
      finalLoss: NaN,
      epochs: recipe.epochs,
      trainSeconds: wallSeconds,
      history: [],
      seed: exp.seed,
      backend: backend.name,
      dataset: exp.data.dataset,
      model: exp.model.architecture,
    };
    await record.complete(metrics);
    const fmt = (x: VictimSummary) => `${(x.targetSuccess * 100).toFixed(1)}% (${x.successes}/${x.trials}, 95% CI ${(x.ci[0] * 100).toFixed(1)}–${(x.ci[1] * 100).toFixed(1)}%), validation accuracy ${(x.validationAccuracy * 100).toFixed(2)}%`;
    log(`done: ${section.name} target success ${fmt(attackSummary)}${baselineSummary ? `; random noise ${fmt(baselineSummary)}` : ''}; ${wallSeconds.toFixed(0)} s; numTensors ${tf.memory().numTensors}`);
    return { runDir: record.dir, runId: record.manifest.runId, metrics, resumed };
  } catch (e) {
    await record.fail(e);
    throw e;
  }
}
