import type { Command } from 'commander';
import { validateExperiment } from '../../experiments/spec.js';
import { runExperiment } from '../../experiments/runner.js';
import { info, out, table, trainingProgress } from '../output.js';

/**
 * The main job of a fresh clone (`npm start`). Until the attack issues land it
 * trains ConvNet-S on the embedded Fashion-MNIST subset and prints per-class
 * results; the full study (attacks, a defense, HTML report) replaces it.
 */
export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('train ConvNet-S on the embedded fashion-mnist-mini and print the results')
    .option('--epochs <n>', 'training epochs', '5')
    .option('--out <dir>', 'folder for run records', 'runs')
    .option('--backend <name>', 'auto, tensorflow, wasm or cpu')
    .action(async (opts: { epochs: string; out: string; backend?: string }) => {
      const exp = validateExperiment(
        { name: 'demo', seed: 0, backend: opts.backend ?? 'auto', data: { dataset: 'fashion-mnist-mini' }, model: { architecture: 'convnet-s' }, train: { epochs: Number(opts.epochs) } },
        'demo',
      );
      const progress = trainingProgress('demo');
      const r = await runExperiment(exp, { root: opts.out, onStep: progress.onStep, onLog: info }).finally(() => progress.stop());
      const m = r.metrics;
      out(table(['class', 'test accuracy'], m.classNames.map((c, i) => [c, `${(m.perClassAccuracy[i]! * 100).toFixed(1)}%`])));
      out(`\nConvNet-S on fashion-mnist-mini: test accuracy ${(m.testAccuracy * 100).toFixed(2)}% after ${m.epochs} epochs (${m.trainSeconds.toFixed(1)} s, ${m.backend})`);
      out(`run recorded in ${r.runDir}`);
    });
}
