import { join } from 'node:path';
import { tf } from '../engine/tf.js';
import { initBackend, describeBackend } from '../engine/backend.js';
import { buildModel } from '../models/registry.js';
import { disposeModule } from '../models/module.js';
import { saveModel } from '../models/io.js';
import { trainSupervised, type StepProgress } from '../train/trainer.js';
import { evaluateClassifier } from '../train/evaluate.js';
import { loadExperimentData, modelSpecFor, supervisedRecipeOf } from './data.js';
import type { Experiment } from './schema.js';
import { runT4Experiment } from './t4Runner.js';
import { runSslExperiment } from './sslRunner.js';
import { runT1Experiment } from './t1Runner.js';
import { runBackdoorExperiment } from './backdoorRunner.js';
import { openRun } from './openRun.js';

export interface RunOptions {
  /** Folder holding run folders (default `runs`). */
  root?: string;
  /** Use exactly this run folder (a sweep's `<store>/runs/<runId>/`) instead of one under `root`. */
  runDir?: string;
  onStep?: (p: StepProgress) => void;
  /** Log lines also go here (the CLI prints them to stderr). */
  onLog?: (line: string) => void;
  /** Stage-cache root (encoders, features, brewing models); default $HEMLOCK_CACHE_DIR or .hemlock/cache. */
  cacheDir?: string;
}

export interface TrainMetrics {
  testAccuracy: number;
  trainAccuracy: number;
  perClassAccuracy: number[];
  confusion: number[][];
  classNames: string[];
  finalLoss: number;
  epochs: number;
  trainSeconds: number;
  history: Record<string, number>[];
  seed: number;
  backend: string;
  dataset: string;
  model: string;
}

export interface RunResult {
  runDir: string;
  runId: string;
  metrics: TrainMetrics;
  resumed: boolean;
}

/**
 * Runs one supervised experiment end to end — data → model → training →
 * evaluation → run record — in its own folder. An interrupted run of the
 * same spec resumes from its last epoch checkpoint.
 */
export async function runExperiment(exp: Experiment, opts: RunOptions = {}): Promise<RunResult> {
  if (exp.t1) return runT1Experiment(exp, opts); // T1 indiscriminate poisoning of a frozen encoder (issue 5)
  if (exp.backdoor) return runBackdoorExperiment(exp, opts); // backdoor attack + detection defenses (issue 7 demo)
  if (exp.attack) return runT4Experiment(exp, opts); // T4 attack specs (issue 6)
  if (exp.pretrain) return runSslExperiment({ ...exp, pretrain: exp.pretrain }, opts); // SSL pre-train → probe (issue 4)
  const backend = await initBackend(exp.backend === 'auto' ? undefined : exp.backend);
  // Data first: bad input (a missing or corrupt dataset) fails before any run folder exists.
  const { train, test } = await loadExperimentData(exp.data, exp.seed);
  const { record, resumed, log } = await openRun(exp, backend, opts);
  log(`${describeBackend(backend)}; run ${record.manifest.runId}${resumed ? ' (resuming)' : ''}`);
  try {
    log(`data: ${exp.data.dataset} train ${train.count} × ${train.shape.slice(1).join('×')}, test ${test.count}, ${train.numClasses} classes`);
    const spec = modelSpecFor(exp, { train, test });
    const model = buildModel(spec, exp.seed);
    try {
      const t0 = performance.now();
      const result = await trainSupervised(
        model,
        train,
        supervisedRecipeOf(exp),
        {
          ...(opts.onStep ? { onStep: opts.onStep } : {}),
          ...(exp.train.checkpoint ? { checkpointDir: join(record.dir, 'checkpoint') } : {}),
          onResume: (e) => log(`resumed from the checkpoint after epoch ${e}`),
          onEpochEnd: (epoch) => {
            const acc = evaluateClassifier(model, test, train.numClasses).accuracy;
            log(`epoch ${epoch}/${exp.train.epochs}: test accuracy ${(acc * 100).toFixed(2)}%`);
            return { testAccuracy: acc };
          },
        },
      );
      const trainSeconds = (performance.now() - t0) / 1000;
      const testEval = evaluateClassifier(model, test, train.numClasses);
      const trainEval = evaluateClassifier(model, train, train.numClasses);
      await saveModel(model, spec, join(record.artifactsDir, 'model'), { seed: exp.seed, dataset: exp.data.dataset });
      const metrics: TrainMetrics = {
        testAccuracy: testEval.accuracy,
        trainAccuracy: trainEval.accuracy,
        perClassAccuracy: testEval.perClassAccuracy,
        confusion: testEval.confusion,
        classNames: test.classNames,
        finalLoss: result.history.at(-1)?.loss ?? NaN,
        epochs: exp.train.epochs,
        trainSeconds,
        history: result.history,
        seed: exp.seed,
        backend: backend.name,
        dataset: exp.data.dataset,
        model: exp.model.architecture,
      };
      await record.complete(metrics);
      log(`done: test accuracy ${(metrics.testAccuracy * 100).toFixed(2)}% in ${trainSeconds.toFixed(1)} s; numTensors ${tf.memory().numTensors}`);
      return { runDir: record.dir, runId: record.manifest.runId, metrics, resumed };
    } finally {
      disposeModule(model);
    }
  } catch (e) {
    await record.fail(e);
    throw e;
  }
}
