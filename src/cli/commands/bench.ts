import type { Command } from 'commander';
import { cpus } from 'node:os';
import { HemlockInputError } from '../../engine/errors.js';
import { initBackend, describeBackend } from '../../engine/backend.js';
import { WORKLOADS, timeWorkload } from '../../bench/workloads.js';
import { runTorchReference } from '../../bench/torch.js';
import { info, out, printJson, table } from '../output.js';

export function registerBench(program: Command): void {
  program
    .command('bench')
    .description('time the workloads of WORKLOADS.md and, when PyTorch is installed, the reference in the same run')
    .option('--only <ids>', 'comma-separated workload ids (default: all)', WORKLOADS.map((w) => w.id).join(','))
    .option('--no-torch', 'skip the PyTorch reference')
    .option('--threads <n>', 'threads for the PyTorch reference', String(cpus().length))
    .option('--backend <name>', 'auto, tensorflow, wasm or cpu')
    .option('--json', 'print one JSON object on the last line of stdout')
    .action(async (opts: { only: string; torch: boolean; threads: string; backend?: string; json?: boolean }) => {
      const ids = opts.only.split(',').map((s) => s.trim().toUpperCase());
      for (const id of ids) if (!WORKLOADS.some((w) => w.id === id)) throw new HemlockInputError(`--only: unknown workload '${id}' (known: ${WORKLOADS.map((w) => w.id).join(', ')})`);
      const backend = await initBackend(opts.backend);
      info(describeBackend(backend));
      const results: Record<string, number> = {};
      for (const w of WORKLOADS.filter((w) => ids.includes(w.id))) {
        info(`timing ${w.id} ${w.title} ...`);
        const r = await timeWorkload(w);
        results[w.id] = r.perSecond;
        info(`  ${w.id}: ${r.perSecond.toPrecision(4)} ${w.unit} (median of ${r.reps})`);
      }
      let torch: Record<string, number> | undefined;
      let ratio: Record<string, number> | undefined;
      let torchVersion: string | undefined;
      if (opts.torch) {
        info('running the PyTorch reference ...');
        const ref = runTorchReference(Object.keys(results), Number(opts.threads));
        if (!ref) info('PyTorch not found (apt-get install -y python3-torch libopenblas0-pthread): no ratios');
        else {
          torchVersion = ref.torch;
          torch = ref.results as Record<string, number>;
          ratio = Object.fromEntries(Object.entries(results).filter(([id]) => torch![id]).map(([id, v]) => [id, v / torch![id]!]));
        }
      }
      const rows = WORKLOADS.filter((w) => w.id in results).map((w) => [
        w.id, w.title, w.unit, results[w.id]!.toPrecision(4), torch?.[w.id]?.toPrecision(4) ?? '-', ratio?.[w.id]?.toFixed(3) ?? '-',
      ]);
      const text = table(['id', 'workload', 'unit', `hemlock (${backend.name})`, 'pytorch', 'ratio'], rows);
      if (opts.json) {
        info(text);
        printJson({ backend: backend.name, results, ...(torch ? { torch, ratio, torchVersion, torchThreads: Number(opts.threads) } : {}) });
      } else out(text);
    });
}
