import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { HemlockInputError } from '../../engine/errors.js';
import { initBackend, describeBackend } from '../../engine/backend.js';
import { Rng } from '../../engine/rng.js';
import { loadExperimentData } from '../../experiments/data.js';
import { readSpecFile } from '../../experiments/spec.js';
import { getAttack } from '../../attacks/registry.js';
import { exportPoisonedSet } from '../../attacks/export.js';
import { BrewingTrainSchema, craftWitchesBrew, modelSpecOf, parseWitchesBrewConfig, supervisedConfigOf, type WitchesBrewProgress } from '../../attacks/witchesBrew.js';
import { info, out, printJson } from '../output.js';

interface PoisonFlags {
  dataset: string;
  dataDir?: string;
  trainLimit?: string;
  testLimit?: string;
  model?: string;
  epsilon?: string;
  budget?: string;
  seed?: string;
  out: string;
  json?: boolean;
  config?: string;
  threatModel?: string;
  targetIndex?: string;
  adversarialClass?: string;
  poisonClass?: string;
  steps?: string;
  restarts?: string;
  ensemble?: string;
  poisonBatchSize?: string;
  brewAugment?: boolean;
  brewEpochs?: string;
  cacheDir?: string;
  png?: boolean;
  force?: boolean;
  backend?: string;
}

/** A flag's number, or a bad-input error naming the flag. */
export function numFlag(flag: string, value: string | undefined, opts: { integer?: boolean; min?: number; max?: number } = {}): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  const bad = value.trim() === '' || !Number.isFinite(n) || (opts.integer && !Number.isInteger(n)) || (opts.min !== undefined && n < opts.min) || (opts.max !== undefined && n > opts.max);
  if (bad) {
    const range = opts.min !== undefined || opts.max !== undefined ? ` in [${opts.min ?? '-∞'}, ${opts.max ?? '∞'}]` : '';
    throw new HemlockInputError(`${flag}: expected ${opts.integer ? 'an integer' : 'a number'}${range}, got '${value}'`);
  }
  return n;
}

/** A progress bar on stderr (drawn only on a terminal). */
export function progressBar(format: string): { update: (value: number, total: number, payload: Record<string, unknown>) => void; stop: () => void } {
  const bar = new cliProgress.SingleBar(
    { format, stream: process.stderr, hideCursor: true, etaBuffer: 50, clearOnComplete: false },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(value, total, payload) {
      if (!started) {
        bar.start(total, value, payload);
        started = true;
      } else {
        bar.setTotal(total);
        bar.update(value, payload);
      }
    },
    stop() {
      if (started) bar.stop();
      started = false;
    },
  };
}

/** The progress hooks of a Witches' Brew craft: one bar for brewing-model training, one for brewing. */
export function brewProgress(): { onProgress: (p: WitchesBrewProgress) => void; stop: () => void } {
  const modelBar = progressBar('brewing model {model} |{bar}| {percentage}% | epoch {epoch}/{epochs} | loss {loss} | ETA {eta_formatted}');
  const brewBar = progressBar('brewing |{bar}| {percentage}% | restart {restart}/{restarts} | step {step}/{steps} | matching loss {loss} | ETA {eta_formatted}');
  let phase: WitchesBrewProgress['phase'] | null = null;
  return {
    onProgress(p) {
      if (p.phase !== phase) {
        modelBar.stop();
        brewBar.stop();
        phase = p.phase;
      }
      if (p.model) {
        const s = p.model.progress;
        modelBar.update((s.epoch - 1) * s.stepsPerEpoch + s.step, s.epochs * s.stepsPerEpoch, { model: `${p.model.index}/${p.model.of}`, epoch: s.epoch, epochs: s.epochs, loss: s.loss.toFixed(4) });
      }
      if (p.brew) {
        const b = p.brew;
        brewBar.update((b.restart - 1) * b.steps + b.step, b.restarts * b.steps, { restart: b.restart, restarts: b.restarts, step: b.step, steps: b.steps, loss: b.loss.toFixed(4) });
      }
    },
    stop() {
      modelBar.stop();
      brewBar.stop();
    },
  };
}

function attackOptions(f: PoisonFlags, attack: string): Record<string, unknown> {
  const base = f.config ? readSpecFile(f.config) : {};
  if (base === null || typeof base !== 'object' || Array.isArray(base)) throw new HemlockInputError(`${f.config}: expected an object of ${attack} options`);
  const o: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  const set = (k: string, v: unknown) => {
    if (v !== undefined) o[k] = v;
  };
  const eps = numFlag('--epsilon', f.epsilon, { min: 0, max: 255 });
  if (eps !== undefined) {
    if (eps <= 0) throw new HemlockInputError(`--epsilon: expected ε in (0, 255] (in /255 units), got '${f.epsilon}'`);
    o.epsilon = eps / 255;
  }
  set('budget', numFlag('--budget', f.budget, { min: 0, max: 1 }));
  set('threatModel', f.threatModel);
  set('targetIndex', numFlag('--target-index', f.targetIndex, { integer: true, min: 0 }));
  set('adversarialClass', numFlag('--adversarial-class', f.adversarialClass, { integer: true, min: 0 }));
  set('poisonClass', numFlag('--poison-class', f.poisonClass, { integer: true, min: 0 }));
  if (attack === 'witches-brew') {
    set('steps', numFlag('--steps', f.steps, { integer: true, min: 1 }));
    set('restarts', numFlag('--restarts', f.restarts, { integer: true, min: 1 }));
    set('ensemble', numFlag('--ensemble', f.ensemble, { integer: true, min: 1 }));
    set('poisonBatchSize', numFlag('--poison-batch-size', f.poisonBatchSize, { integer: true, min: 1 }));
    if (f.brewAugment === false) o.augment = false;
    if (f.model) o.model = { ...((o.model as object) ?? {}), architecture: f.model };
    const epochs = numFlag('--brew-epochs', f.brewEpochs, { integer: true, min: 1 });
    if (epochs !== undefined) o.brewing = { ...((o.brewing as object) ?? {}), epochs };
    if (f.cacheDir) o.cacheDir = f.cacheDir;
  } else {
    for (const [flag, v] of [['--steps', f.steps], ['--restarts', f.restarts], ['--ensemble', f.ensemble], ['--brew-epochs', f.brewEpochs], ['--poison-batch-size', f.poisonBatchSize]] as const) {
      if (v !== undefined) throw new HemlockInputError(`${flag}: not an option of ${attack}`);
    }
  }
  return o;
}

export function registerPoison(program: Command): void {
  program
    .command('poison <attack>')
    .description("craft a poisoned training set (T4: witches-brew, or the random-noise baseline) and export it as NPY + manifest")
    .requiredOption('--dataset <name>', 'built-in dataset name or dataset directory')
    .option('--data-dir <dir>', 'where the files of a built-in dataset are')
    .option('--train-limit <n>', 'class-balanced subset of the training set (seeded with 0)')
    .option('--test-limit <n>', 'class-balanced subset of the test set (seeded with 0)')
    .option('--model <name>', 'brewing model architecture (convnet-s, resnet, mlp)')
    .option('--epsilon <e>', 'ℓ∞ radius in /255 units (default 16)')
    .option('--budget <f>', 'fraction of the training set to poison (default 0.01)')
    .option('--seed <n>', 'seed of the setup (target, adversarial class, poisons) and of brewing', '0')
    .requiredOption('--out <dir>', 'output directory (must be new or empty)')
    .option('--config <file>', 'YAML/JSON file of attack options (flags override)')
    .option('--threat-model <m>', 'single-class, third-party or random-subset')
    .option('--target-index <i>', 'target image: index into the test set (default random)')
    .option('--adversarial-class <c>', 'adversarial class (default random)')
    .option('--poison-class <c>', 'third-party: class the poisons come from')
    .option('--steps <n>', 'brewing steps per restart (default 250)')
    .option('--restarts <n>', 'brewing restarts (default 8)')
    .option('--ensemble <k>', 'number of brewing models (default 1)')
    .option('--poison-batch-size <n>', 'poisons per matching batch (default 512)')
    .option('--no-brew-augment', 'brew without differentiable augmentation')
    .option('--brew-epochs <n>', 'epochs of brewing-model training (default 40)')
    .option('--cache-dir <dir>', 'cache root for brewing models (default .hemlock/cache)')
    .option('--png', 'also write PNG folders (8-bit) next to the NPY files')
    .option('--force', 'write into a non-empty output directory')
    .option('--backend <name>', 'auto, tensorflow, wasm or cpu')
    .option('--json', 'print a summary as one JSON object on the last line of stdout')
    .action(async (attackName: string, f: PoisonFlags) => {
      const attack = getAttack(attackName);
      if (attack.info.capabilities.threatModel !== 'T4') throw new HemlockInputError(`poison: '${attackName}' is a ${attack.info.capabilities.threatModel} attack; this command crafts T4 poisoned training sets`);
      const seed = numFlag('--seed', f.seed, { integer: true, min: 0 })!;
      const options = attackOptions(f, attackName);
      const parsed = attack.configSchema.safeParse(options);
      if (!parsed.success) {
        throw new HemlockInputError(parsed.error.issues.map((i) => `${attackName}.${i.path.join('.') || '(root)'}: ${i.message}`).join('; '));
      }
      const cfg = parsed.data as Record<string, unknown> & { epsilon: number; budget: number };
      const trainLimit = numFlag('--train-limit', f.trainLimit, { integer: true, min: 1 });
      const testLimit = numFlag('--test-limit', f.testLimit, { integer: true, min: 1 });
      const { train, test } = await loadExperimentData(
        { dataset: f.dataset, ...(f.dataDir ? { dataDir: f.dataDir } : {}), ...(trainLimit ? { trainLimit } : {}), ...(testLimit ? { testLimit } : {}) },
        0,
      );
      const backend = await initBackend(f.backend);
      info(describeBackend(backend));
      info(`data: ${f.dataset} train ${train.count} × ${train.height}×${train.width}×${train.channels}, test ${test.count}, ${train.numClasses} classes`);
      const t0 = performance.now();
      const ctx = { train, test, rng: new Rng(seed) };
      let result;
      let victim: Record<string, unknown> | undefined;
      if (attackName === 'witches-brew') {
        const wb = parseWitchesBrewConfig(cfg);
        const progress = brewProgress();
        try {
          result = await craftWitchesBrew(ctx, wb, { onProgress: progress.onProgress, onLog: (l) => info(l) });
        } finally {
          progress.stop();
        }
        const { seed: _s, ...recipe } = supervisedConfigOf(wb.brewing ?? BrewingTrainSchema.parse({}), train.name, 0);
        victim = { model: modelSpecOf(wb, train), train: recipe };
      } else {
        result = await attack.craft(ctx, cfg);
      }
      const seconds = (performance.now() - t0) / 1000;
      const manifest = await exportPoisonedSet(f.out, result, {
        seed,
        epsilon: cfg.epsilon,
        budget: cfg.budget,
        cleanTrain: train,
        test,
        ...(victim ? { victim } : {}),
        ...(f.png ? { png: true } : {}),
        ...(f.force ? { overwrite: true } : {}),
      });
      const maxLinf = manifest.linfNorms.reduce((a, b) => Math.max(a, b), 0);
      const summary = {
        attack: attackName,
        out: f.out,
        epsilon: manifest.epsilon,
        budget: manifest.budget,
        poisons: manifest.poisonIndices.length,
        targetIndex: manifest.targetIndex,
        targetTrueClass: manifest.targetTrueClass,
        adversarialClass: manifest.adversarialClass,
        threatModel: manifest.threatModel,
        maxLinf,
        ...(typeof result.details.initialLoss === 'number' ? { initialLoss: result.details.initialLoss, finalLoss: result.details.finalLoss } : {}),
        seconds,
        backend: backend.name,
      };
      if (f.json) {
        printJson(summary);
        return;
      }
      out(
        `${attackName}: ${summary.poisons} poisons (ε = ${(summary.epsilon * 255).toFixed(1)}/255, max ‖δ‖∞ = ${(maxLinf * 255).toFixed(2)}/255) ` +
          `for test image #${summary.targetIndex} (${test.classNames[summary.targetTrueClass]} → ${test.classNames[summary.adversarialClass]})` +
          (summary.finalLoss !== undefined ? `; matching loss ${Number(summary.initialLoss).toFixed(4)} → ${Number(summary.finalLoss).toFixed(4)}` : '') +
          ` in ${seconds.toFixed(1)} s`,
      );
      out(`wrote ${f.out} (manifest.json lists the sha256 of every file)`);
    });
}
