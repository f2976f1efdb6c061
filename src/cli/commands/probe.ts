import type { Command } from 'commander';
import { HemlockInputError } from '../../engine/errors.js';
import { initBackend, describeBackend } from '../../engine/backend.js';
import { loadExperimentData } from '../../experiments/data.js';
import { ProbeSchema } from '../../experiments/schema.js';
import { loadEncoder, resolveEncoderDir, runProbe } from '../../experiments/sslRunner.js';
import { info, out, printJson, trainingProgress } from '../output.js';
import { jsonFlag, num, parseClasses } from './pretrain.js';

interface ProbeFlags {
  encoder?: string;
  dataset?: string;
  dataDir?: string;
  classes?: string;
  trainLimit?: string;
  testLimit?: string;
  seed?: string;
  mode?: string;
  epochs?: string;
  batchSize?: string;
  optimizer?: string;
  lr?: string;
  modelOptions?: string;
  cacheDir?: string;
  featureCache?: boolean;
  standardize?: boolean;
  backend?: string;
  json?: boolean;
}

export function registerProbe(program: Command): void {
  program
    .command('probe [encoder]')
    .description('evaluate an encoder downstream: linear probe on frozen (cached) features, or --mode finetune')
    .option('--encoder <path>', 'encoder folder (from hemlock pretrain, a cache entry, a run folder) or random:<architecture>')
    .option('--dataset <name>', 'built-in dataset name or dataset directory (e.g. an IDX folder)')
    .option('--data-dir <dir>', 'where the files of a built-in dataset are')
    .option('--classes <range>', 'only these classes, e.g. 5-9 (relabelled 0..k-1)')
    .option('--train-limit <n>', 'class-balanced subset of the training set')
    .option('--test-limit <n>', 'class-balanced subset of the test set')
    .option('--seed <n>', 'random seed', '0')
    .option('--mode <mode>', 'linear or finetune', 'linear')
    .option('--epochs <n>', 'linear: full-batch steps (or epochs with --batch-size); finetune: epochs')
    .option('--batch-size <n>', 'minibatch size')
    .option('--optimizer <kind>', 'adam or sgd')
    .option('--lr <x>', 'learning rate')
    .option('--model-options <json>', 'architecture options for random:<architecture>')
    .option('--cache-dir <dir>', 'cache root for features (default $HEMLOCK_CACHE_DIR or .hemlock/cache)')
    .option('--no-feature-cache', 'do not read or write cached features')
    .option('--no-standardize', 'linear probe on raw features (default: standardised with the training mean and std)')
    .option('--backend <name>', 'auto, tensorflow, wasm or cpu')
    .option('--json', 'print the result as one JSON object on the last line of stdout')
    .action(async (positional: string | undefined, flags: ProbeFlags) => {
      const ref = flags.encoder ?? positional;
      if (!ref) throw new HemlockInputError('--encoder: required (an encoder folder or random:convnet-s)');
      if (!flags.dataset) throw new HemlockInputError('--dataset: required');
      const seed = num('--seed', flags.seed)!;
      if (!Number.isInteger(seed) || seed < 0) throw new HemlockInputError(`--seed: expected an integer ≥ 0, got '${flags.seed}'`);
      const raw: Record<string, unknown> = { mode: flags.mode };
      if (flags.epochs !== undefined) raw.epochs = num('--epochs', flags.epochs);
      if (flags.batchSize !== undefined) raw.batchSize = num('--batch-size', flags.batchSize);
      if (flags.optimizer || flags.lr !== undefined) {
        raw.optimizer = { kind: flags.optimizer ?? (flags.mode === 'finetune' ? 'sgd' : 'adam'), ...(flags.lr !== undefined ? { lr: num('--lr', flags.lr) } : {}) };
      }
      if (flags.standardize === false) raw.standardize = false;
      const parsed = ProbeSchema.safeParse(raw);
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        throw new HemlockInputError(`probe options: ${issue.path.join('.') || 'mode'}: ${issue.message}`);
      }
      const probe = parsed.data;
      const classes = parseClasses(flags.classes);
      const trainLimit = num('--train-limit', flags.trainLimit);
      const testLimit = num('--test-limit', flags.testLimit);
      // Bad input (data, encoder path) fails before anything is printed.
      const data = await loadExperimentData(
        {
          dataset: flags.dataset,
          ...(flags.dataDir ? { dataDir: flags.dataDir } : {}),
          ...(classes ? { classes } : {}),
          ...(trainLimit !== undefined ? { trainLimit } : {}),
          ...(testLimit !== undefined ? { testLimit } : {}),
        },
        seed,
      );
      if (!ref.startsWith('random:')) resolveEncoderDir(ref);
      const modelOptions = jsonFlag('--model-options', flags.modelOptions) ?? {};
      const backend = await initBackend(flags.backend);
      info(describeBackend(backend));
      const loaded = await loadEncoder(ref, data, seed, modelOptions);
      const progress = trainingProgress('finetune');
      let result;
      try {
        result = await runProbe(loaded, data, probe, seed, {
          cacheDir: flags.featureCache === false ? null : (flags.cacheDir ?? undefined),
          datasetName: flags.dataset,
          onStep: progress.onStep,
        });
      } finally {
        progress.stop();
        loaded.dispose();
      }
      const summary = {
        testAccuracy: result.testAccuracy,
        trainAccuracy: result.trainAccuracy,
        encoder: ref,
        dataset: flags.dataset,
        classes: classes ?? null,
        mode: probe.mode,
        train: data.train.count,
        test: data.test.count,
        seed,
        featureCacheHit: result.featureCacheHit,
        seconds: result.seconds,
        backend: backend.name,
      };
      if (flags.json) {
        printJson(summary);
        return;
      }
      out(`${probe.mode} probe of ${ref} on ${flags.dataset}${classes ? ` classes ${classes.join(',')}` : ''}: test accuracy ${(result.testAccuracy * 100).toFixed(2)}% (train ${(result.trainAccuracy * 100).toFixed(2)}%), ${result.seconds.toFixed(1)} s${result.featureCacheHit ? ', cached features' : ''}`);
    });
}
