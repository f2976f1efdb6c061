import type { Command } from 'commander';
import { HemlockInputError } from '../../engine/errors.js';
import { readSpecFile, validateExperiment } from '../../experiments/spec.js';
import { runExperiment } from '../../experiments/runner.js';
import type { ExperimentInput } from '../../experiments/schema.js';
import { info, out, printJson, trainingProgress, table } from '../output.js';
import { isT1Metrics, reportT1 } from '../t1Output.js';
import type { BackdoorMetrics } from '../../experiments/backdoorRunner.js';

interface TrainFlags {
  dataset?: string;
  dataDir?: string;
  model?: string;
  epochs?: string;
  seed?: string;
  batchSize?: string;
  lr?: string;
  optimizer?: string;
  augment?: boolean;
  trainLimit?: string;
  testLimit?: string;
  out: string;
  json?: boolean;
  backend?: string;
  name?: string;
}

/** A flag's number, or a bad-input error naming the flag. */
function num(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new HemlockInputError(`${flag}: expected a number, got '${value}'`);
  return n;
}

/** Turns flags into a spec object; a spec file's values are the base flags override. */
function specFromFlags(base: Record<string, unknown>, f: TrainFlags): ExperimentInput {
  const spec = structuredClone(base) as Record<string, any>;
  const set = (path: string[], value: unknown) => {
    if (value === undefined) return;
    let o = spec;
    for (const k of path.slice(0, -1)) o = o[k] ??= {};
    o[path.at(-1)!] = value;
  };
  set(['name'], f.name);
  set(['seed'], num('--seed', f.seed));
  set(['backend'], f.backend);
  set(['data', 'dataset'], f.dataset);
  set(['data', 'dataDir'], f.dataDir);
  set(['data', 'trainLimit'], num('--train-limit', f.trainLimit));
  set(['data', 'testLimit'], num('--test-limit', f.testLimit));
  set(['model', 'architecture'], f.model);
  set(['train', 'epochs'], num('--epochs', f.epochs));
  set(['train', 'batchSize'], num('--batch-size', f.batchSize));
  if (f.optimizer) set(['train', 'optimizer'], { kind: f.optimizer });
  if (f.lr !== undefined) {
    // --lr alone keeps the spec's optimizer (SGD by default).
    set(['train', 'optimizer', 'kind'], spec.train?.optimizer?.kind ?? 'sgd');
    set(['train', 'optimizer', 'lr'], num('--lr', f.lr));
  }
  if (f.augment === false) set(['train', 'augment'], { shift: 0, flip: false });
  if (!spec.name && f.dataset && f.model) spec.name = `train-${f.model}-${f.dataset}`.replace(/[^A-Za-z0-9._-]/g, '_');
  return spec as ExperimentInput;
}

async function trainAndReport(spec: unknown, source: string, flags: TrainFlags): Promise<void> {
  const exp = validateExperiment(spec, source);
  const progress = trainingProgress(exp.name);
  const result = await runExperiment(exp, { root: flags.out, onStep: progress.onStep, onLog: (l) => info(l) }).finally(() => progress.stop());
  const m = result.metrics;
  if (isT1Metrics(m)) return reportT1(m, result.runDir, flags.json); // T1 specs print their own contract (issue 5)
  if ((m as { kind?: string }).kind === 'backdoor') return reportBackdoor(m as unknown as BackdoorMetrics, result.runDir, flags.json);
  const summary = { testAccuracy: m.testAccuracy, trainAccuracy: m.trainAccuracy, finalLoss: m.finalLoss, epochs: m.epochs, trainSeconds: m.trainSeconds, seed: m.seed, backend: m.backend, dataset: m.dataset, model: m.model, runDir: result.runDir };
  if (flags.json) {
    printJson(summary);
    return;
  }
  out(table(['class', 'test accuracy'], m.classNames.map((c, i) => [c, `${(m.perClassAccuracy[i]! * 100).toFixed(1)}%`])));
  out(`\ntest accuracy ${(m.testAccuracy * 100).toFixed(2)}%  (train ${(m.trainAccuracy * 100).toFixed(2)}%)  ${m.trainSeconds.toFixed(1)} s on ${m.backend}`);
  out(`run recorded in ${result.runDir}`);
}

function addTrainFlags(cmd: Command): Command {
  return cmd
    .option('--dataset <name>', 'built-in dataset name or dataset directory')
    .option('--data-dir <dir>', 'where the files of a built-in dataset are')
    .option('--model <name>', 'model architecture (see hemlock list)')
    .option('--epochs <n>', 'training epochs')
    .option('--seed <n>', 'random seed')
    .option('--batch-size <n>', 'batch size')
    .option('--optimizer <kind>', 'sgd or adam')
    .option('--lr <x>', 'base learning rate')
    .option('--no-augment', 'train without augmentation')
    .option('--train-limit <n>', 'class-balanced subset of the training set')
    .option('--test-limit <n>', 'class-balanced subset of the test set')
    .option('--name <name>', 'run name')
    .option('--out <dir>', 'folder for run records', 'runs')
    .option('--backend <name>', 'auto, tensorflow, wasm or cpu')
    .option('--json', 'print the run metrics as one JSON object on the last line of stdout');
}

export function registerTrain(program: Command): void {
  addTrainFlags(program.command('train [spec]'))
    .description('train a classifier from a spec file and/or flags, and record the run')
    .action(async (specPath: string | undefined, flags: TrainFlags) => {
      const base = specPath ? (readSpecFile(specPath) as Record<string, unknown>) : {};
      if (!specPath && !flags.dataset) throw new HemlockInputError('--dataset: required when no spec file is given');
      await trainAndReport(specFromFlags(base, flags), specPath ?? 'flags', flags);
    });

  program
    .command('run <spec>')
    .description('run an experiment spec (YAML or JSON) and record it')
    .option('--out <dir>', 'folder for run records', 'runs')
    .option('--backend <name>', 'auto, tensorflow, wasm or cpu')
    .option('--json', 'print the run metrics as one JSON object on the last line of stdout')
    .action(async (specPath: string, flags: TrainFlags) => {
      const raw = readSpecFile(specPath) as Record<string, unknown>;
      const spec = flags.backend ? { ...raw, backend: flags.backend } : raw;
      await trainAndReport(spec, specPath, flags);
    });
}

/** A backdoor run: clean accuracy, ASR, and per defense its detection and what retraining on the kept set gives. */
function reportBackdoor(m: BackdoorMetrics, runDir: string, json: boolean | undefined): void {
  const defenses = Object.values(m.defenses).map((d) => ({ defense: d.defense, auroc: d.auroc, tpr: d.tpr, fpr: d.fpr, removed: d.removed, retrainedAccuracy: d.retrainedAccuracy, retrainedAsr: d.retrainedAsr }));
  if (json) {
    printJson({ attack: m.attack, targetClass: m.targetClass, poisons: m.poisons, cleanAccuracy: m.cleanAccuracy ?? null, poisonedAccuracy: m.poisonedAccuracy, asr: m.asr, asrBaseline: m.asrBaseline ?? null, defenses, seed: m.seed, backend: m.backend, runDir });
    return;
  }
  const pct = (x: number | null | undefined) => (x === null || x === undefined ? '–' : `${(x * 100).toFixed(1)}%`);
  out(`${m.attack} (${m.trigger}, ${m.poisons} poisons → class ${m.targetClass}): clean model ${pct(m.cleanAccuracy)} accuracy, ASR ${pct(m.asrBaseline)}; backdoored ${pct(m.poisonedAccuracy)}, ASR ${pct(m.asr)}`);
  if (defenses.length) out(table(['defense', 'AUROC', 'TPR', 'FPR', 'removed', 'retrained accuracy', 'retrained ASR'], defenses.map((d) => [d.defense, d.auroc.toFixed(3), pct(d.tpr), pct(d.fpr), d.removed, pct(d.retrainedAccuracy), pct(d.retrainedAsr)])));
  out(`run recorded in ${runDir}`);
}
