import { existsSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { tf } from '../engine/tf.js';
import { initBackend, describeBackend } from '../engine/backend.js';
import { HemlockInputError } from '../engine/errors.js';
import { Rng } from '../engine/rng.js';
import { sha256, writeJsonAtomic } from '../engine/files.js';
import { readNpy } from '../data/npy.js';
import type { TrainTest } from '../data/builtin.js';
import { accuracy, accuracyDrop, meanCI, perClassAccuracy } from '../eval/metrics.js';
import { buildModel } from '../models/registry.js';
import { classifier } from '../models/classifier.js';
import { linearHead } from '../models/heads.js';
import { disposeModule } from '../models/module.js';
import { saveModel } from '../models/io.js';
import { trainSupervised } from '../train/trainer.js';
import { evaluateClassifier } from '../train/evaluate.js';
import { cachedFeatures, imagesSha256, predictLinearProbe, trainLinearProbe as trainAdamProbe } from '../train/probe.js';
import { getAttack } from '../attacks/registry.js';
import type { AttackResult } from '../attacks/types.js';
import { extractFeatures, featureSet, featuresOf, rememberFeatures, type FeatureExtractor, type FeatureSet } from '../attacks/t1/features.js';
import { concatFeatures, headAccuracy, predictHead, trainLinearProbe, type HeadWeights, type ProbeResult } from '../attacks/t1/linearProbe.js';
import { exportT1Poisons } from '../attacks/t1/export.js';
import { canonicalJson } from './records.js';
import { flipAllowed, loadExperimentData, modelSpecFor } from './data.js';
import { defaultCacheDir, EncoderCache, encoderHash, ENCODER_CACHE_FORMAT, type EncoderCacheKey } from './encoderCache.js';
import { loadEncoder, pretrainCached, type LoadedEncoder } from './sslRunner.js';
import type { Experiment } from './schema.js';
import type { RunOptions, RunResult, TrainMetrics } from './runner.js';
import { openRun } from './openRun.js';

/**
 * The T1 protocol (ALGORITHMS.md §1; SPEC.md threat model T1): a frozen
 * encoder f; the victim trains a linear head on the features of its
 * downstream training set, clean (→ clean accuracy) and with εN poisons
 * added (→ poisoned accuracy); the metric is the accuracy drop on the clean
 * test set. One run of a spec covers every (seed, ε, attack) it lists; the
 * encoder, the features and the clean head are computed once.
 *
 *  - same-dataset: the encoder was pre-trained on `data` and the victim probes `data`;
 *  - transfer: pre-trained on `data`, probing `t1.downstream` (e.g. classes 0–4 → 5–9).
 *
 * The victim objective is mean CE + λ/2‖W‖² solved by full-batch L-BFGS from
 * zero (deterministic), so the clean accuracy does not depend on the seed;
 * seeds vary the attacks' random choices. Feature-space poisons (gc-feature)
 * enter the victim's training set as features; every other attack's poisons
 * are images, passed through f. For FT the victim is also trained on the
 * feature-space poisons ζ before inversion (featureSpaceAccuracy): the
 * difference is the inversion gap.
 */

type T1Section = NonNullable<Experiment['t1']>;

export interface T1Row {
  cleanAccuracy: number;
  poisonedAccuracy: number;
  /** max(0, clean − poisoned): the contract's number in [0,1]. */
  accuracyDrop: number;
  /** clean − poisoned, unclamped (negative when the poisons helped); the tables use this. */
  signedDrop: number;
  attack: string;
  attackName: string;
  epsilon: number;
  seed: number;
  mode: 'same-dataset' | 'transfer';
  poisonCount: number;
  /** FT / input GC: accuracy when the victim trains on the feature-space poisons ζ (before inversion). */
  featureSpaceAccuracy?: number;
  /** poisonedAccuracy − featureSpaceAccuracy (how much the inversion gave back). */
  inversionGap?: number;
  facts: Record<string, unknown>;
  craftSeconds: number;
  evalSeconds: number;
  exportDir?: string;
}

export interface T1Summary {
  attack: string;
  epsilon: number;
  mode: string;
  n: number;
  cleanAccuracy: number;
  poisonedAccuracy: { mean: number; halfWidth: number };
  drop: { mean: number; halfWidth: number; std: number };
  featureSpaceDrop?: { mean: number; halfWidth: number };
}

export interface T1Metrics extends TrainMetrics {
  kind: 't1';
  mode: 'same-dataset' | 'transfer';
  runs: T1Row[];
  summary: T1Summary[];
  encoder: { source: string; id: string; path?: string; cacheHit?: boolean; knnAccuracy?: number | null; pretrainSeconds?: number };
  cleanProbe: { accuracy: number; trainAccuracy: number; iterations?: number; converged?: boolean; l2: number; victim: string };
  downstream: { dataset: string; classes: number[] | null; train: number; test: number };
  wallSeconds: number;
}

export function isT1Metrics(m: unknown): m is T1Metrics {
  return typeof m === 'object' && m !== null && (m as { kind?: unknown }).kind === 't1';
}

/** The `--json` contract: one run's object, or {runs: [...]} for several. */
export function t1ContractJson(m: T1Metrics): Record<string, unknown> {
  const one = (r: T1Row) => ({
    cleanAccuracy: r.cleanAccuracy,
    poisonedAccuracy: r.poisonedAccuracy,
    accuracyDrop: r.accuracyDrop,
    attack: r.attack,
    epsilon: r.epsilon,
    seed: r.seed,
    mode: r.mode,
    signedDrop: r.signedDrop,
    poisonCount: r.poisonCount,
    ...(r.featureSpaceAccuracy !== undefined ? { featureSpaceAccuracy: r.featureSpaceAccuracy, inversionGap: r.inversionGap } : {}),
  });
  return m.runs.length === 1 ? one(m.runs[0]!) : { runs: m.runs.map(one) };
}

interface Victim {
  name: string;
  /** Trains on features; returns test accuracy (and the head for the exact victim). */
  fit(train: FeatureSet): { testAccuracy: number; trainAccuracy: number; result?: ProbeResult };
}

function makeVictim(section: T1Section, test: FeatureSet, numClasses: number, seed: number): Victim {
  const p = section.probe;
  if (p.victim === 'exact') {
    return {
      name: 'exact',
      fit(train) {
        const r = trainLinearProbe(train, numClasses, { l2: p.l2, maxIter: p.maxIter, tolerance: p.tolerance });
        return { testAccuracy: headAccuracy(r.head, test), trainAccuracy: headAccuracy(r.head, train), result: r };
      },
    };
  }
  return {
    name: 'adam-standardized',
    fit(train) {
      const model = trainAdamProbe({ features: train.z, count: train.count, dim: train.dim }, train.labels, numClasses, {
        epochs: 300,
        optimizer: { kind: 'adam', lr: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 },
        schedule: { kind: 'cosine' },
        standardize: true,
        seed,
      });
      const acc = (f: FeatureSet) => accuracy(predictLinearProbe(model, { features: f.z, count: f.count, dim: f.dim }), f.labels);
      return { testAccuracy: acc(test), trainAccuracy: acc(train) };
    },
  };
}

const SUPERVISED_TRAINER_VERSION = 'hemlock-supervised-encoder/1';

/** The frozen encoder the spec names (pre-trained / trained through the encoder cache, loaded, or random). */
async function obtainEncoder(
  exp: Experiment,
  section: T1Section,
  pretrainData: TrainTest,
  downstream: TrainTest,
  log: (l: string) => void,
  opts: RunOptions & { cacheDir?: string },
): Promise<{ loaded: LoadedEncoder; info: T1Metrics['encoder'] }> {
  const cacheDir = section.cacheDir ?? opts.cacheDir ?? defaultCacheDir();
  const src = section.encoder;
  if (src.source === 'path') {
    const loaded = await loadEncoder(src.path, downstream, exp.seed);
    log(`encoder: ${src.path}`);
    return { loaded, info: { source: 'path', id: loaded.id, path: src.path } };
  }
  if (src.source === 'random') {
    const loaded = await loadEncoder(`random:${exp.model.architecture}`, downstream, exp.seed, exp.model.options);
    log(`encoder: randomly initialised ${exp.model.architecture} (seed ${exp.seed})`);
    return { loaded, info: { source: 'random', id: loaded.id } };
  }
  if (src.source === 'pretrain') {
    if (!exp.pretrain) throw new HemlockInputError("t1.encoder: source 'pretrain' needs a `pretrain` section (or use source supervised, path or random)");
    const outcome = await pretrainCached({ ...exp, pretrain: exp.pretrain }, { cacheDir, data: pretrainData, onLog: log, ...(opts.onStep ? { onStep: opts.onStep } : {}) });
    const loaded = await loadEncoder(outcome.encoderDir, downstream, exp.seed);
    return {
      loaded,
      info: { source: `pretrain:${exp.pretrain.method}`, id: outcome.encoderHash, path: outcome.encoderDir, cacheHit: outcome.cacheHit, knnAccuracy: outcome.knnAccuracy, pretrainSeconds: outcome.pretrainSeconds },
    };
  }
  // Supervised pre-training with labels on `data`, cached like the SSL encoders.
  const spec = modelSpecFor(exp, pretrainData);
  const train = pretrainData.train;
  const key: EncoderCacheKey = {
    format: ENCODER_CACHE_FORMAT,
    data: {
      dataset: existsSync(exp.data.dataset) ? `dir:${basename(resolve(exp.data.dataset))}` : exp.data.dataset,
      split: 'train',
      classes: exp.data.classes ?? null,
      trainLimit: exp.data.trainLimit ?? null,
      count: train.count,
      shape: [train.height, train.width, train.channels],
      imagesSha256: imagesSha256(train, true),
    },
    poisonManifestSha256: null,
    method: 'supervised',
    config: { ...exp.train, checkpoint: undefined, augment: { ...exp.train.augment, flip: exp.train.augment.flip === 'auto' ? flipAllowed(exp.data.dataset) : exp.train.augment.flip } },
    model: { architecture: spec.architecture, options: spec.options, inputShape: spec.inputShape },
    seed: exp.seed,
    trainerVersion: SUPERVISED_TRAINER_VERSION,
  };
  const hash = encoderHash(key);
  const cache = new EncoderCache(cacheDir);
  let cacheHit = true;
  let pretrainSeconds: number | undefined;
  if (!cache.lookup(hash)) {
    const release = cache.lock(hash);
    try {
      if (!cache.lookup(hash)) {
        cacheHit = false;
        const model = buildModel(spec, exp.seed);
        try {
          log(`training a supervised ${spec.architecture} encoder on ${train.count} images of ${exp.data.dataset} (${exp.train.epochs} epochs); encoder ${hash.slice(0, 12)}`);
          const t0 = performance.now();
          const cfg = key.config as { augment: never };
          const result = await trainSupervised(
            model,
            train,
            { epochs: exp.train.epochs, batchSize: exp.train.batchSize, optimizer: exp.train.optimizer, schedule: exp.train.schedule, augment: cfg.augment, seed: exp.seed },
            { checkpointDir: cache.checkpointDir(hash), ...(opts.onStep ? { onStep: opts.onStep } : {}), onResume: (e) => log(`resumed from the checkpoint after epoch ${e}`) },
          );
          pretrainSeconds = (performance.now() - t0) / 1000;
          const testAccuracy = evaluateClassifier(model, pretrainData.test, spec.numClasses).accuracy;
          log(`supervised encoder: test accuracy ${(testAccuracy * 100).toFixed(2)}% (${pretrainSeconds.toFixed(0)} s)`);
          await cache.commit(key, { testAccuracy, history: result.history, pretrainSeconds }, (dir) =>
            saveModel(model, spec, dir, { role: 'supervised-encoder', encoderHash: hash, seed: exp.seed, dataset: exp.data.dataset, classes: exp.data.classes ?? null }).then(() => undefined),
          );
        } finally {
          disposeModule(model);
        }
      }
    } finally {
      release();
    }
  } else log(`encoder cache hit ${hash.slice(0, 12)} (supervised; no training)`);
  const loaded = await loadEncoder(cache.encoderDir(hash), downstream, exp.seed);
  return { loaded, info: { source: 'supervised', id: hash, path: cache.encoderDir(hash), cacheHit, ...(pretrainSeconds !== undefined ? { pretrainSeconds } : {}) } };
}

/** Writes the clean head's weights into a linear head module. */
function headModule(h: HeadWeights, seed: number) {
  const head = linearHead(h.dim, h.numClasses, new Rng(`t1-head/${seed}`));
  head.params['fc/kernel']!.assign(tf.tensor2d(h.w, [h.dim, h.numClasses]));
  head.params['fc/bias']!.assign(tf.tensor1d(h.b));
  return head;
}

function rowKey(label: string, epsilon: number, seed: number): string {
  return `${label}|${epsilon}|${seed}`;
}

/** The features of the poisons a result added (images through f, or the attack's features). */
function poisonFeatureSet(result: AttackResult, encoder: FeatureExtractor, cleanCount: number): FeatureSet {
  const pt = result.poisonedTrain;
  if (!result.added) throw new Error(`t1: attack ${result.attack} substituted samples; T1 attacks add poisons`);
  for (let j = 0; j < result.poisonIndices.length; j++) {
    if (result.poisonIndices[j] !== cleanCount + j) throw new Error(`t1: attack ${result.attack} did not append its poisons after the clean set`);
  }
  const labels = Int32Array.from(result.poisonIndices, (i) => pt.labels[i]!);
  if (result.details.featureSpace === true) {
    const z = result.details.poisonFeatures as Float32Array;
    return featureSet(z, labels, encoder.featureDim);
  }
  const images = pt.images.subarray(cleanCount * pt.imageSize);
  return featureSet(featuresOf(encoder, images, pt), labels, encoder.featureDim);
}

function summarize(rows: T1Row[]): T1Summary[] {
  const groups = new Map<string, T1Row[]>();
  for (const r of rows) {
    const k = `${r.attack}|${r.epsilon}`;
    groups.set(k, [...(groups.get(k) ?? []), r]);
  }
  return [...groups.values()].map((g) => {
    const drop = meanCI(g.map((r) => r.signedDrop));
    const pa = meanCI(g.map((r) => r.poisonedAccuracy));
    const fs = g.every((r) => r.featureSpaceAccuracy !== undefined) ? meanCI(g.map((r) => r.cleanAccuracy - r.featureSpaceAccuracy!)) : null;
    return {
      attack: g[0]!.attack,
      epsilon: g[0]!.epsilon,
      mode: g[0]!.mode,
      n: g.length,
      cleanAccuracy: g[0]!.cleanAccuracy,
      poisonedAccuracy: { mean: pa.mean, halfWidth: pa.halfWidth },
      drop: { mean: drop.mean, halfWidth: drop.halfWidth, std: drop.std },
      ...(fs ? { featureSpaceDrop: { mean: fs.mean, halfWidth: fs.halfWidth } } : {}),
    };
  });
}

export async function runT1Experiment(exp: Experiment, opts: RunOptions & { cacheDir?: string } = {}): Promise<RunResult & { metrics: T1Metrics }> {
  const section = exp.t1;
  if (!section) throw new Error('runT1Experiment: the spec has no t1 section');
  const backend = await initBackend(exp.backend === 'auto' ? undefined : exp.backend);
  // Same dataset and classes = same task (the downstream set may be a subset: trainLimit/testLimit).
  const d = section.downstream;
  const sameData = !d || (d.dataset === exp.data.dataset && canonicalJson(d.classes ?? null) === canonicalJson(exp.data.classes ?? null));
  if (section.mode === 'same-dataset' && !sameData) throw new HemlockInputError('t1.mode: same-dataset, but t1.downstream names another dataset or other classes than data (use mode transfer)');
  if (section.mode === 'transfer' && sameData) throw new HemlockInputError('t1.downstream: transfer mode needs downstream data that differs from data (e.g. other classes)');
  // Data first: bad input fails before any run folder exists.
  const pretrainData = await loadExperimentData(exp.data, exp.seed);
  const downstream = section.downstream ? await loadExperimentData(section.downstream, exp.seed) : pretrainData;
  const seeds = section.seeds ?? [exp.seed];
  const { record, resumed, log } = await openRun(exp, backend, opts);
  const t0 = performance.now();
  log(`${describeBackend(backend)}; run ${record.manifest.runId}${resumed ? ' (resuming)' : ''}; T1 ${section.mode}`);
  let loaded: LoadedEncoder | null = null;
  let head: ReturnType<typeof headModule> | null = null;
  try {
    const enc = await obtainEncoder(exp, section, pretrainData, downstream, log, opts);
    loaded = enc.loaded;
    const encoder = loaded.encoder;
    const train = downstream.train;
    const test = downstream.test;
    const k = train.numClasses;
    log(`downstream: ${(section.downstream ?? exp.data).dataset}${(section.downstream ?? exp.data).classes ? ` classes [${(section.downstream ?? exp.data).classes!.join(',')}]` : ''}: train ${train.count}, test ${test.count}, ${k} classes`);
    const tf0 = performance.now();
    // Stage cache: the clean features depend only on the encoder's weights and
    // the images, so every run of a sweep over attacks, budgets and seeds (and
    // `hemlock probe`, which uses the same key) computes them once.
    const featureDir = join(section.cacheDir ?? opts.cacheDir ?? defaultCacheDir(), 'features');
    const cached = async (d: typeof train) => {
      const f = await cachedFeatures(featureDir, `${loaded!.id}|${imagesSha256(d)}`, () => ({ features: extractFeatures(encoder, d), count: d.count, dim: encoder.featureDim }));
      if (f.cacheHit) rememberFeatures(encoder, d, f.features);
      return { set: featureSet(f.features, d.labels, encoder.featureDim), hit: f.cacheHit };
    };
    const cleanC = await cached(train);
    const testC = await cached(test);
    const clean = cleanC.set;
    const testF = testC.set;
    log(`features: ${encoder.featureDim}-d, ${((performance.now() - tf0) / 1000).toFixed(1)} s${cleanC.hit && testC.hit ? ' (feature cache hit)' : ''}`);
    const exact = trainLinearProbe(clean, k, { l2: section.probe.l2, maxIter: section.probe.maxIter, tolerance: section.probe.tolerance });
    const victim = makeVictim(section, testF, k, exp.seed);
    const cleanFit = section.probe.victim === 'exact' ? { testAccuracy: headAccuracy(exact.head, testF), trainAccuracy: headAccuracy(exact.head, clean) } : victim.fit(clean);
    const cleanAccuracy = cleanFit.testAccuracy;
    log(`clean probe (${victim.name}): test accuracy ${(cleanAccuracy * 100).toFixed(2)}%, train ${(cleanFit.trainAccuracy * 100).toFixed(2)}% (L-BFGS ${exact.iterations} iterations, max |grad| ${exact.gradMax.toExponential(1)})`);
    head = headModule(exact.head, exp.seed);
    const model = classifier(encoder, head);

    const rowsPath = join(record.artifactsDir, 't1-rows.json');
    const done = new Map<string, T1Row>();
    if (resumed && existsSync(rowsPath)) for (const r of JSON.parse(readFileSync(rowsPath, 'utf8')) as T1Row[]) done.set(rowKey(r.attack, r.epsilon, r.seed), r);
    const rows: T1Row[] = [];
    for (const seed of seeds)
      for (const epsilon of section.epsilons)
        for (const entry of section.attacks) {
          const key = rowKey(entry.label, epsilon, seed);
          const prev = done.get(key);
          if (prev) {
            rows.push(prev);
            log(`${entry.label} ε=${epsilon} seed ${seed}: done in an earlier attempt (drop ${(prev.signedDrop * 100).toFixed(2)} points)`);
            continue;
          }
          const attack = getAttack(entry.name);
          const config = attack.configSchema.parse({
            ...entry.options,
            epsilon,
            // The attacker simulates the victim it faces (same λ and iteration budget) when it chooses among target radii.
            ...('victim' in (attack.configSchema as unknown as { shape: object }).shape ? { victim: { l2: section.probe.l2, maxIter: section.probe.maxIter } } : {}),
          });
          const c0 = performance.now();
          const result = await attack.craft({ train, test, model, rng: new Rng(seed) }, config);
          const craftSeconds = (performance.now() - c0) / 1000;
          const e0 = performance.now();
          const poisonF = poisonFeatureSet(result, encoder, train.count);
          const poisonedAccuracy = victim.fit(concatFeatures(clean, poisonF)).testAccuracy;
          const signedDrop = accuracyDrop(cleanAccuracy, poisonedAccuracy);
          const row: T1Row = {
            cleanAccuracy,
            poisonedAccuracy,
            accuracyDrop: Math.min(1, Math.max(0, signedDrop)),
            signedDrop,
            attack: entry.label,
            attackName: entry.name,
            epsilon,
            seed,
            mode: section.mode,
            poisonCount: result.poisonIndices.length,
            // Scalars, plus the per-radius candidates (small objects) so a record shows why a target was chosen.
            facts: Object.fromEntries(Object.entries(result.details).filter(([key, v]) => typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean' || key === 'radiusCandidates')),
            craftSeconds,
            evalSeconds: 0,
          };
          const zeta = result.details.poisonFeatures;
          if (result.details.featureSpace !== true && zeta instanceof Float32Array) {
            row.featureSpaceAccuracy = victim.fit(concatFeatures(clean, featureSet(zeta, poisonF.labels, encoder.featureDim))).testAccuracy;
            row.inversionGap = poisonedAccuracy - row.featureSpaceAccuracy;
          }
          if (result.linfNorms && result.linfNorms.length) row.facts.meanLinf = result.linfNorms.reduce((a, b) => a + b, 0) / result.linfNorms.length;
          row.evalSeconds = (performance.now() - e0) / 1000;
          if (section.export !== 'none') {
            const dir = join(record.artifactsDir, 'poisons', `${entry.label}-eps${epsilon}-seed${seed}`);
            await exportT1Poisons(dir, result, { label: entry.label, epsilon, seed, mode: section.mode, cleanTrain: train, test, full: section.export === 'full' });
            row.exportDir = dir;
          }
          rows.push(row);
          await writeJsonAtomic(rowsPath, rows.concat([...done.values()].filter((r) => !rows.some((x) => rowKey(x.attack, x.epsilon, x.seed) === rowKey(r.attack, r.epsilon, r.seed)))));
          log(
            `${entry.label} ε=${epsilon} seed ${seed}: ${row.poisonCount} poisons, poisoned accuracy ${(poisonedAccuracy * 100).toFixed(2)}% (drop ${(signedDrop * 100).toFixed(2)} points)` +
              (row.featureSpaceAccuracy !== undefined ? `; feature-space poisons ${(row.featureSpaceAccuracy * 100).toFixed(2)}%` : '') +
              `; craft ${craftSeconds.toFixed(1)} s; numTensors ${tf.memory().numTensors}`,
          );
        }
    const summary = summarize(rows);
    const wallSeconds = (performance.now() - t0) / 1000;
    const preds = section.probe.victim === 'exact' ? predictHead(exact.head, testF.z) : null;
    const metrics: T1Metrics = {
      kind: 't1',
      mode: section.mode,
      runs: rows,
      summary,
      encoder: enc.info,
      cleanProbe: { accuracy: cleanAccuracy, trainAccuracy: cleanFit.trainAccuracy, iterations: exact.iterations, converged: exact.converged, l2: section.probe.l2, victim: victim.name },
      downstream: { dataset: (section.downstream ?? exp.data).dataset, classes: (section.downstream ?? exp.data).classes ?? null, train: train.count, test: test.count },
      wallSeconds,
      testAccuracy: cleanAccuracy,
      trainAccuracy: cleanFit.trainAccuracy,
      perClassAccuracy: preds ? perClassAccuracy(preds, test.labels, k) : [],
      confusion: [],
      classNames: test.classNames,
      finalLoss: exact.loss,
      epochs: 0,
      trainSeconds: wallSeconds,
      history: [],
      seed: exp.seed,
      backend: backend.name,
      dataset: exp.data.dataset,
      model: exp.model.architecture,
    };
    await record.complete(metrics);
    for (const s of summary) {
      log(`${s.attack} ε=${s.epsilon}: drop ${(s.drop.mean * 100).toFixed(2)} ± ${Number.isNaN(s.drop.halfWidth) ? '-' : (s.drop.halfWidth * 100).toFixed(2)} points over ${s.n} seed(s) (clean ${(s.cleanAccuracy * 100).toFixed(2)}%)`);
    }
    log(`done in ${wallSeconds.toFixed(0)} s; run recorded in ${record.dir}; numTensors ${tf.memory().numTensors}`);
    return { runDir: record.dir, runId: record.manifest.runId, metrics, resumed };
  } catch (e) {
    await record.fail(e);
    throw e;
  } finally {
    if (head) disposeModule(head);
    loaded?.dispose();
  }
}

export interface T1Reevaluation {
  cleanAccuracy: number;
  poisonedAccuracy: number;
  accuracyDrop: number;
  signedDrop: number;
  attack: string;
  epsilon: number;
  seed: number;
  mode: string;
  poisonCount: number;
  victim: string;
}

/**
 * Re-evaluates an exported T1 poison set (`<run>/artifacts/poisons/<label>/`):
 * rebuilds the victim of the run that made it — the run's spec (its
 * `spec.json`, two folders up from `artifacts/`), the same frozen encoder
 * (through the encoder cache, or the spec's path / random seed) and the same
 * downstream data — checks every exported file against the manifest's
 * sha256, and trains the victim's probe on clean ∪ the exported poisons.
 * With the exact victim this reproduces the run's recorded row exactly.
 */
function readJsonFile<T>(path: string): T | null {
  if (!existsSync(path)) return null;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch {
    throw new HemlockInputError(`${path}: not valid JSON`);
  }
}

export async function reevaluateT1Export(dir: string, opts: { cacheDir?: string; onLog?: (l: string) => void } = {}): Promise<T1Reevaluation> {
  const manifestPath = join(dir, 't1-manifest.json');
  const manifest = readJsonFile<{ kind?: string; attack: string; label?: string; epsilon: number; seed: number; mode: string; poisonCount: number; files: Record<string, string>; featureSpace: boolean }>(manifestPath);
  if (!manifest || manifest.kind !== 'hemlock-t1-poisons') throw new HemlockInputError(`${manifestPath}: not a hemlock T1 poison manifest`);
  for (const [f, sum] of Object.entries(manifest.files)) {
    const p = join(dir, f);
    if (!existsSync(p)) throw new HemlockInputError(`${p}: missing (listed in ${manifestPath})`);
    if (sha256(readFileSync(p)) !== sum) throw new HemlockInputError(`${p}: sha256 does not match ${manifestPath}`);
  }
  const runDir = resolve(dir, '..', '..', '..');
  const specPath = join(runDir, 'spec.json');
  const raw = readJsonFile<unknown>(specPath);
  if (raw === null) throw new HemlockInputError(`${specPath}: not found — a T1 export is re-evaluated from inside its run folder (<run>/artifacts/poisons/<label>/)`);
  // spec.json holds the resolved spec (every default filled, attack options
  // parsed): the run's own Experiment, used as is.
  const exp = raw as Experiment;
  const section = exp.t1;
  if (!section) throw new HemlockInputError(`${specPath}: the run has no t1 section`);
  await initBackend(exp.backend === 'auto' ? undefined : exp.backend);
  const log = opts.onLog ?? (() => {});
  const pretrainData = await loadExperimentData(exp.data, exp.seed);
  const downstream = section.downstream ? await loadExperimentData(section.downstream, exp.seed) : pretrainData;
  const { loaded } = await obtainEncoder(exp, section, pretrainData, downstream, log, opts.cacheDir ? { cacheDir: opts.cacheDir } : {});
  try {
    const encoder = loaded.encoder;
    const { train, test } = downstream;
    const clean = featureSet(extractFeatures(encoder, train), train.labels, encoder.featureDim);
    const testF = featureSet(extractFeatures(encoder, test), test.labels, encoder.featureDim);
    const y = await readNpy(join(dir, 'y_poisons.npy'));
    const labels = Int32Array.from(y.data as ArrayLike<number | bigint>, (v) => Number(v));
    let z: Float32Array;
    if (manifest.featureSpace) {
      z = (await readNpy(join(dir, 'poison_features.npy'))).data as Float32Array;
    } else {
      const x = await readNpy(join(dir, 'x_poisons.npy'));
      z = featuresOf(encoder, x.data as Float32Array, train);
    }
    const victim = makeVictim(section, testF, train.numClasses, exp.seed);
    const cleanFit = victim.fit(clean);
    const poisoned = victim.fit(concatFeatures(clean, featureSet(z, labels, encoder.featureDim)));
    const signedDrop = accuracyDrop(cleanFit.testAccuracy, poisoned.testAccuracy);
    return {
      cleanAccuracy: cleanFit.testAccuracy,
      poisonedAccuracy: poisoned.testAccuracy,
      accuracyDrop: Math.min(1, Math.max(0, signedDrop)),
      signedDrop,
      attack: manifest.label ?? manifest.attack,
      epsilon: manifest.epsilon,
      seed: manifest.seed,
      mode: manifest.mode,
      poisonCount: labels.length,
      victim: victim.name,
    };
  } finally {
    loaded.dispose();
  }
}
