import type { Command } from 'commander';
import { runDemo } from '../../experiments/demo.js';
import { info, out, printJson, table, trainingProgress } from '../output.js';

/** The main job of a fresh clone (`npm start`): the compact study of src/experiments/demo.ts. */
export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('a compact study on the embedded fashion-mnist-mini: SSL encoder, T1 poisoning, a backdoor and a defense, with an HTML report')
    .option('--out <dir>', 'folder for the run records and report.html', 'demo')
    .option('--cache-dir <dir>', 'stage cache root (default $HEMLOCK_CACHE_DIR or .hemlock/cache)')
    .option('--backend <name>', 'auto, tensorflow, wasm or cpu')
    .option('--json', 'print the result as one JSON object on the last line of stdout')
    .action(async (opts: { out: string; cacheDir?: string; backend?: string; json?: boolean }) => {
      const progress = trainingProgress('demo');
      const r = await runDemo({
        out: opts.out,
        ...(opts.backend ? { backend: opts.backend } : {}),
        ...(opts.cacheDir ? { cacheDir: opts.cacheDir } : {}),
        onStep: progress.onStep,
        onLog: info,
      }).finally(() => progress.stop());
      const pct = (x: number | null) => (x === null ? '–' : `${(x * 100).toFixed(1)}%`);
      out(
        table(
          ['study', 'setting', 'clean acc.', 'accuracy', 'drop', 'attack success', 'AUROC'],
          r.rows.map((x) => [x.study, x.setting, pct(x.cleanAccuracy), pct(x.accuracy), x.accuracyDrop === null ? '–' : `${(x.accuracyDrop * 100).toFixed(1)} pt`, pct(x.asr), x.auroc === null ? '–' : x.auroc.toFixed(3)]),
        ),
      );
      out(`\ndemo finished in ${r.seconds.toFixed(0)} s${r.encoderCacheHit ? ' (encoder from the cache)' : ''}; report: ${r.report}`);
      out(`runs: ${r.runDirs.join(', ')}`);
      if (opts.json) printJson({ rows: r.rows, report: r.report, runDirs: r.runDirs, seconds: r.seconds, encoderCacheHit: r.encoderCacheHit });
    });
}
