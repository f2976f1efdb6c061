import type { Command } from 'commander';
import { HemlockInputError } from '../../engine/errors.js';
import { initBackend, describeBackend } from '../../engine/backend.js';
import { readSpecFile, validateExperiment } from '../../experiments/spec.js';
import { pretrainCached } from '../../experiments/sslRunner.js';
import { loadExperimentData } from '../../experiments/data.js';
import { SSL_METHODS } from '../../train/ssl/types.js';
import { SSL_DEFAULT_OPTIMIZER } from '../../experiments/schema.js';
import { info, out, printJson, trainingProgress } from '../output.js';

/** `--classes 0-4` / `0,2,5` / `0-2,7` → [0,1,2,3,4] etc. (in the order given; labels become 0..k-1). */
export function parseClasses(value: string | undefined, flag = '--classes'): number[] | undefined {
  if (value === undefined) return undefined;
  const out: number[] = [];
  for (const part of value.split(',').map((s) => s.trim())) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw new HemlockInputError(`${flag}: expected a class range like 0-4 or a list like 0,2,5, got '${value}'`);
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (b < a) throw new HemlockInputError(`${flag}: range ${part} runs backwards`);
    for (let c = a; c <= b; c++) {
      if (out.includes(c)) throw new HemlockInputError(`${flag}: class ${c} listed twice in '${value}'`);
      out.push(c);
    }
  }
  return out;
}

/** A flag's number, or a bad-input error naming the flag. */
export function num(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new HemlockInputError(`${flag}: expected a number, got '${value}'`);
  return n;
}

export function jsonFlag(flag: string, value: string | undefined): Record<string, unknown> | undefined {
  if (value === undefined) return undefined;
  try {
    const v = JSON.parse(value) as unknown;
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('not an object');
    return v as Record<string, unknown>;
  } catch (e) {
    throw new HemlockInputError(`${flag}: expected a JSON object like '{"widths":[8,16,32]}', got '${value}' (${(e as Error).message})`);
  }
}

interface PretrainFlags {
  method?: string;
  dataset?: string;
  dataDir?: string;
  classes?: string;
  trainLimit?: string;
  testLimit?: string;
  model?: string;
  modelOptions?: string;
  epochs?: string;
  batchSize?: string;
  seed?: string;
  optimizer?: string;
  lr?: string;
  temperature?: string;
  queueSize?: string;
  momentum?: string;
  lambda?: string;
  projectorDim?: string;
  knnEvery?: string;
  cacheDir?: string;
  backend?: string;
  name?: string;
  json?: boolean;
}

function specFromFlags(base: Record<string, unknown>, f: PretrainFlags): Record<string, unknown> {
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
  set(['data', 'classes'], parseClasses(f.classes));
  set(['data', 'trainLimit'], num('--train-limit', f.trainLimit));
  set(['data', 'testLimit'], num('--test-limit', f.testLimit));
  set(['model', 'architecture'], f.model);
  set(['model', 'options'], jsonFlag('--model-options', f.modelOptions));
  set(['pretrain', 'method'], f.method);
  set(['pretrain', 'epochs'], num('--epochs', f.epochs));
  set(['pretrain', 'batchSize'], num('--batch-size', f.batchSize));
  if (f.optimizer) set(['pretrain', 'optimizer'], { kind: f.optimizer });
  if (f.lr !== undefined) {
    // --lr alone keeps the spec's optimizer (or the default one, weight decay included).
    if (!spec.pretrain?.optimizer) set(['pretrain', 'optimizer'], { ...SSL_DEFAULT_OPTIMIZER });
    set(['pretrain', 'optimizer', 'lr'], num('--lr', f.lr));
  }
  set(['pretrain', 'temperature'], num('--temperature', f.temperature));
  set(['pretrain', 'queueSize'], num('--queue-size', f.queueSize));
  set(['pretrain', 'momentum'], num('--momentum', f.momentum));
  set(['pretrain', 'lambda'], num('--lambda', f.lambda));
  set(['pretrain', 'projector', 'out'], num('--projector-dim', f.projectorDim));
  set(['pretrain', 'knn', 'every'], num('--knn-every', f.knnEvery));
  if (!spec.name && spec.pretrain?.method && spec.data?.dataset) spec.name = `pretrain-${spec.pretrain.method}-${spec.data.dataset}`.replace(/[^A-Za-z0-9._-]/g, '_');
  return spec;
}

export function registerPretrain(program: Command): void {
  program
    .command('pretrain [spec]')
    .description('self-supervised pre-training of an encoder (SimCLR, MoCo v2, BYOL, Barlow Twins), reusing the encoder cache')
    .option('--method <name>', `${SSL_METHODS.join(', ')}`)
    .option('--dataset <name>', 'built-in dataset name or dataset directory (its train split is pre-trained on without labels)')
    .option('--data-dir <dir>', 'where the files of a built-in dataset are')
    .option('--classes <range>', 'only these classes, e.g. 0-4 or 0,2,5 (relabelled 0..k-1)')
    .option('--train-limit <n>', 'class-balanced subset of the training set')
    .option('--test-limit <n>', 'class-balanced subset of the test set (k-NN monitor queries)')
    .option('--model <name>', 'encoder architecture (default convnet-s)')
    .option('--model-options <json>', 'architecture options, e.g. \'{"widths":[8,16,32]}\'')
    .option('--epochs <n>', 'pre-training epochs')
    .option('--batch-size <n>', 'images per batch (two views each)')
    .option('--seed <n>', 'random seed')
    .option('--optimizer <kind>', 'adam or sgd')
    .option('--lr <x>', 'base learning rate')
    .option('--temperature <x>', 'SimCLR / MoCo temperature')
    .option('--queue-size <n>', 'MoCo queue size')
    .option('--momentum <x>', 'MoCo / BYOL starting EMA momentum')
    .option('--lambda <x>', 'Barlow Twins off-diagonal weight')
    .option('--projector-dim <n>', 'projector output size')
    .option('--knn-every <n>', 'k-NN monitor every n epochs (0: only at the end)')
    .option('--cache-dir <dir>', 'cache root (default $HEMLOCK_CACHE_DIR or .hemlock/cache)')
    .option('--name <name>', 'a name for logs')
    .option('--backend <name>', 'auto, tensorflow, wasm or cpu')
    .option('--json', 'print the result as one JSON object on the last line of stdout')
    .action(async (specPath: string | undefined, flags: PretrainFlags) => {
      const base = specPath ? (readSpecFile(specPath) as Record<string, unknown>) : {};
      const raw = specFromFlags(base, flags);
      if (!(raw.pretrain as { method?: string } | undefined)?.method) throw new HemlockInputError(`--method: required (one of ${SSL_METHODS.join(', ')})`);
      if (!(raw.data as { dataset?: string } | undefined)?.dataset) throw new HemlockInputError('--dataset: required when no spec file gives data.dataset');
      const exp = validateExperiment(raw, specPath ?? 'flags');
      // Data before anything is printed: a bad dataset is one line on stderr.
      const data = await loadExperimentData(exp.data, exp.seed);
      const backend = await initBackend(exp.backend === 'auto' ? undefined : exp.backend);
      info(describeBackend(backend));
      const progress = trainingProgress(`${exp.pretrain!.method}`);
      const r = await pretrainCached(
        { ...exp, pretrain: exp.pretrain! },
        { data, onStep: progress.onStep, onLog: (l) => info(l), ...(flags.cacheDir ? { cacheDir: flags.cacheDir } : {}) },
      ).finally(() => progress.stop());
      const summary = {
        encoder: r.encoderDir,
        encoderHash: r.encoderHash,
        cacheHit: r.cacheHit,
        knnAccuracy: r.knnAccuracy,
        method: exp.pretrain!.method,
        dataset: exp.data.dataset,
        classes: exp.data.classes ?? null,
        model: exp.model.architecture,
        epochs: exp.pretrain!.epochs,
        seed: exp.seed,
        finalLoss: r.history.at(-1)?.loss ?? null,
        pretrainSeconds: r.pretrainSeconds,
        resumedFromEpoch: r.resumedFromEpoch,
        backend: backend.name,
      };
      if (flags.json) {
        printJson(summary);
        return;
      }
      out(`${r.cacheHit ? 'cache hit (no training)' : 'pre-trained'}: ${summary.method} ${summary.model} on ${summary.dataset}${summary.classes ? ` classes ${summary.classes.join(',')}` : ''}`);
      out(`k-NN accuracy ${r.knnAccuracy === null ? '-' : `${(r.knnAccuracy * 100).toFixed(2)}%`}; final loss ${summary.finalLoss?.toFixed(4) ?? '-'}; ${r.pretrainSeconds.toFixed(1)} s`);
      out(`encoder ${r.encoderHash}`);
      out(`saved in ${r.encoderDir}`);
    });
}
