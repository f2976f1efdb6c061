import type { Command } from 'commander';
import { cpus } from 'node:os';
import { HemlockInputError } from '../../engine/errors.js';
import { initBackend } from '../../engine/backend.js';
import { WORKLOADS } from '../../bench/workloads.js';
import { runBench, machineLine, type WorkloadId } from '../../bench/run.js';
import { info, out, printJson, table } from '../output.js';

export function registerBench(program: Command): void {
  program
    .command('bench')
    .description('time the workloads of WORKLOADS.md and, when PyTorch is installed, the reference right after each one')
    .option('--only <ids>', 'comma-separated workload ids (default: all)', WORKLOADS.map((w) => w.id).join(','))
    .option('--no-torch', 'skip the PyTorch reference')
    .option('--threads <n>', 'threads for the PyTorch reference', String(cpus().length))
    .option('--single-thread', 'also time the workloads with HEMLOCK_THREADS=1 (in a child process)')
    .option('--cpu-time', 'time by CPU time on 1 thread, hemlock and PyTorch alike (robust when other jobs load the machine)')
    .option('--backend <name>', 'auto, tensorflow, wasm or cpu')
    .option('--json', 'print one JSON object on the last line of stdout')
    .action(async (opts: { only: string; torch: boolean; threads: string; singleThread?: boolean; cpuTime?: boolean; backend?: string; json?: boolean }) => {
      const ids = opts.only.split(',').map((s) => s.trim().toUpperCase());
      for (const id of ids) if (!WORKLOADS.some((w) => w.id === id)) throw new HemlockInputError(`--only: unknown workload '${id}' (known: ${WORKLOADS.map((w) => w.id).join(', ')})`);
      const threads = Number(opts.threads);
      if (!Number.isInteger(threads) || threads < 1) throw new HemlockInputError(`--threads: expected a positive integer, got '${opts.threads}'`);
      // CPU time is only comparable on one thread: hemlock's backend too.
      if (opts.cpuTime) process.env.HEMLOCK_THREADS = '1';
      const backend = await initBackend(opts.backend);
      const report = await runBench({ ids: ids as WorkloadId[], backend, torch: opts.torch, torchThreads: threads, singleThread: Boolean(opts.singleThread), clock: opts.cpuTime ? 'cpu' : 'wall', log: info });
      const title = (id: string) => WORKLOADS.find((w) => w.id === id)!.title;
      const rows = report.rows.map((r) => [
        r.id,
        title(r.id),
        r.unit,
        r.hemlock.toPrecision(4),
        ...(report.singleThread ? [report.singleThread[r.id]?.toPrecision(4) ?? '-'] : []),
        r.torch?.toPrecision(4) ?? '-',
        r.ratio?.toFixed(3) ?? '-',
        `${r.load[0].toFixed(1)}/${r.load[1].toFixed(1)}`,
      ]);
      const head = ['id', 'workload', 'unit', `hemlock (${backend.name}${backend.wasmThreads ? `, ${backend.wasmThreads}t` : ''})`, ...(report.singleThread ? ['hemlock 1t'] : []), 'pytorch', 'ratio', 'load'];
      const clockLine = report.clock === 'cpu' ? 'clock: CPU time, 1 thread (hemlock and PyTorch)' : 'clock: wall';
      const text = [`machine: ${machineLine(report.machine)}`, clockLine, table(head, rows)].join('\n');
      const pick = (f: (r: (typeof report.rows)[number]) => number | undefined) =>
        Object.fromEntries(report.rows.filter((r) => f(r) !== undefined).map((r) => [r.id, f(r)!]));
      if (opts.json) {
        info(text);
        const torch = pick((r) => r.torch);
        printJson({
          ...report,
          results: pick((r) => r.hemlock),
          ...(Object.keys(torch).length ? { torch, ratio: pick((r) => r.ratio) } : {}),
        });
      } else out(text);
    });
}
