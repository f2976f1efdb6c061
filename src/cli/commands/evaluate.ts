import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { reevaluateT1Export } from '../../experiments/t1Runner.js';
import type { Command } from 'commander';
import { HemlockInputError } from '../../engine/errors.js';
import { initBackend, describeBackend } from '../../engine/backend.js';
import { isModelName, type ModelSpec } from '../../models/registry.js';
import { readPoisonedSet } from '../../attacks/export.js';
import { BrewingTrainSchema, supervisedConfigOf } from '../../attacks/witchesBrew.js';
import { retrainVictims, summarizeTrials, type VictimRecipe } from '../../eval/victimRetraining.js';
import { info, out, printJson } from '../output.js';
import { numFlag, progressBar } from './poison.js';

interface EvaluateFlags {
  retrain: string;
  seed: string;
  epochs?: string;
  model?: string;
  json?: boolean;
  backend?: string;
}

/** The victim recipe: the manifest's (what the attacker assumed), with flag overrides. */
function victimRecipe(manifest: { victim?: Record<string, unknown>; dataset: { shape: [number, number, number]; classNames: string[]; name: string } }, f: EvaluateFlags): VictimRecipe {
  const v = manifest.victim as Partial<VictimRecipe> | undefined;
  const { seed: _s, ...defaultTrain } = supervisedConfigOf(BrewingTrainSchema.parse({}), manifest.dataset.name, 0);
  const model: ModelSpec = v?.model ?? { architecture: 'convnet-s', inputShape: manifest.dataset.shape, numClasses: manifest.dataset.classNames.length, head: 'linear', options: {} };
  const train = { ...defaultTrain, ...(v?.train ?? {}) };
  if (f.model) {
    if (!isModelName(f.model)) throw new HemlockInputError(`--model: unknown model '${f.model}'`);
    model.architecture = f.model;
    model.options = {};
  }
  const epochs = numFlag('--epochs', f.epochs, { integer: true, min: 1 });
  if (epochs !== undefined) train.epochs = epochs;
  return { model, train };
}

export function registerEvaluate(program: Command): void {
  program
    .command('evaluate <dir>')
    .description('re-evaluate an exported poisoned set: T4 (retrain victims from scratch, target success with Wilson 95% CI) or T1 (the run\'s probe on clean ∪ poisons)')
    .option('--retrain <R>', 'number of retrainings from scratch', '4')
    .option('--seed <n>', 'seed of the victims (initialisation, data order, augmentation)', '0')
    .option('--epochs <n>', "victim training epochs (default: the manifest's victim recipe)")
    .option('--model <name>', "victim architecture (default: the manifest's)")
    .option('--backend <name>', 'auto, tensorflow, wasm or cpu')
    .option('--json', 'print {"targetSuccess","ci","trials","validationAccuracy",…} as one JSON object on the last line of stdout')
    .action(async (dir: string, f: EvaluateFlags) => {
      if (existsSync(join(dir, 't1-manifest.json'))) {
        // A T1 export: rebuild the frozen encoder and the probe victim of its run.
        const r = await reevaluateT1Export(dir, { onLog: info });
        if (f.json) printJson(r);
        else out(`${r.attack} ε=${r.epsilon} seed ${r.seed} (${r.mode}, ${r.victim} victim): clean ${(r.cleanAccuracy * 100).toFixed(2)}% → poisoned ${(r.poisonedAccuracy * 100).toFixed(2)}% (drop ${(r.signedDrop * 100).toFixed(2)} points, ${r.poisonCount} poisons)`);
        return;
      }
      const retrainings = numFlag('--retrain', f.retrain, { integer: true, min: 1 })!;
      const seed = numFlag('--seed', f.seed, { integer: true, min: 0 })!;
      const set = await readPoisonedSet(dir);
      const m = set.manifest;
      const recipe = victimRecipe(m, f);
      const backend = await initBackend(f.backend);
      info(describeBackend(backend));
      info(
        `${dir}: ${m.attack}, ${m.poisonIndices.length} poisons (max ‖δ‖∞ ${(Math.max(0, ...set.measuredLinf) * 255).toFixed(2)}/255 ≤ ε ${(m.epsilon * 255).toFixed(2)}/255), ` +
          `target test #${m.targetIndex} (${m.dataset.classNames[m.targetTrueClass]} → ${m.dataset.classNames[m.adversarialClass]}); ` +
          `${retrainings} × ${recipe.model.architecture} for ${recipe.train.epochs} epochs from scratch`,
      );
      const bar = progressBar('victim {victim} |{bar}| {percentage}% | epoch {epoch}/{epochs} | loss {loss} | ETA {eta_formatted}');
      const t0 = performance.now();
      let trials;
      try {
        trials = await retrainVictims(
          { train: set.train, test: set.test, targetIndex: m.targetIndex, targetTrueClass: m.targetTrueClass, adversarialClass: m.adversarialClass },
          recipe,
          {
            retrainings,
            seed,
            onStep: (r, p) =>
              bar.update(r * p.epochs * p.stepsPerEpoch + (p.epoch - 1) * p.stepsPerEpoch + p.step, retrainings * p.epochs * p.stepsPerEpoch, {
                victim: `${r + 1}/${retrainings}`,
                epoch: p.epoch,
                epochs: p.epochs,
                loss: p.loss.toFixed(4),
              }),
            onTrial: (t) => {
              bar.stop();
              info(`victim ${t.retrain + 1}/${retrainings}: target → ${m.dataset.classNames[t.predicted]} (${t.success ? 'success' : 'no'}; p_adv ${t.adversarialProbability.toFixed(3)}), validation accuracy ${(t.validationAccuracy * 100).toFixed(2)}%`);
            },
          },
        );
      } finally {
        bar.stop();
      }
      const s = summarizeTrials(trials);
      const seconds = (performance.now() - t0) / 1000;
      const result = {
        targetSuccess: s.targetSuccess,
        ci: s.ci,
        trials: s.trials,
        validationAccuracy: s.validationAccuracy,
        successes: s.successes,
        predictions: trials.map((t) => t.predicted),
        adversarialProbabilities: trials.map((t) => t.adversarialProbability),
        attack: m.attack,
        targetIndex: m.targetIndex,
        adversarialClass: m.adversarialClass,
        epochs: recipe.train.epochs,
        model: recipe.model.architecture,
        seed,
        seconds,
        backend: backend.name,
      };
      if (f.json) {
        printJson(result);
        return;
      }
      out(
        `target success ${(s.targetSuccess * 100).toFixed(1)}% (${s.successes}/${s.trials}; Wilson 95% CI ${(s.ci[0] * 100).toFixed(1)}–${(s.ci[1] * 100).toFixed(1)}%), ` +
          `victims' validation accuracy ${(s.validationAccuracy * 100).toFixed(2)}%, ${seconds.toFixed(1)} s`,
      );
    });
}
