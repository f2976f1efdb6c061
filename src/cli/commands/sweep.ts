import { availableParallelism } from 'node:os';
import type { Command } from 'commander';
import { HemlockInputError } from '../../engine/errors.js';
import { expandSweep, loadSweep, runSweep, type SweepEvent } from '../../experiments/sweep.js';
import { InProcessExecutor } from '../../experiments/executors/inProcess.js';
import { LocalPoolExecutor } from '../../experiments/executors/localPool.js';
import type { Executor } from '../../experiments/executors/types.js';
import { info, out, printJson, table } from '../output.js';

interface SweepFlags {
  workers?: string | boolean;
  redis?: string;
  queue?: string;
  store: string;
  json?: boolean;
  retries?: string;
  jobTimeout?: string;
  dryRun?: boolean;
  verbose?: boolean;
}

/** A positive integer flag, or a bad-input error naming it. */
export function positiveIntFlag(flag: string, value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < 1) throw new HemlockInputError(`${flag}: expected a positive integer, got '${value}'`);
  return n;
}

export function positiveNumberFlag(flag: string, value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0) throw new HemlockInputError(`${flag}: expected a number > 0, got '${value}'`);
  return n;
}

function shortMetrics(m: Record<string, unknown> | undefined): string {
  if (!m) return '';
  const keys = ['testAccuracy', 'cleanAccuracy', 'attackSuccessRate', 'asr', 'auroc'].filter((k) => typeof m[k] === 'number');
  return keys.map((k) => `${k} ${(m[k] as number).toFixed(4)}`).join(', ');
}

export function registerSweep(program: Command): void {
  program
    .command('sweep <spec>')
    .description('run a sweep (a base experiment × grid/zip axes) into a store; re-running skips completed runs')
    .option('--store <dir>', 'store directory: run folders, results index (shared by all workers)', 'store')
    .option('--workers [n]', 'run in a local pool of worker processes (default: one per core)')
    .option('--redis <url>', 'enqueue the runs in BullMQ on Redis for `hemlock worker`s (redis://host:port)')
    .option('--queue <name>', 'queue name with --redis', 'hemlock-runs')
    .option('--retries <n>', 'attempts per run with --redis', '3')
    .option('--job-timeout <seconds>', 'kill (and fail) a run that takes longer than this')
    .option('--dry-run', 'list the expanded runs and exit')
    .option('--verbose', 'print every run\'s log lines')
    .option('--json', 'print {"runs","completed","failed","skipped"} as the last line of stdout')
    .action(async (specPath: string, flags: SweepFlags) => {
      const sweep = expandSweep(loadSweep(specPath), specPath);
      if (flags.workers !== undefined && flags.redis) throw new HemlockInputError('--workers and --redis: choose one executor');
      const timeoutMs = flags.jobTimeout !== undefined ? positiveNumberFlag('--job-timeout', flags.jobTimeout) * 1000 : undefined;
      if (sweep.duplicates.length) {
        info(`${specPath}: ${sweep.duplicates.length} axis combination(s) resolve to the spec of an earlier one; each distinct spec runs once`);
      }
      if (flags.dryRun) {
        const axes = [...new Set(sweep.runs.flatMap((r) => Object.keys(r.params)))];
        if (flags.json) printJson({ sweep: sweep.id, runs: sweep.runs.map((r) => ({ id: r.id, params: r.params })) });
        else out(table(['run', ...axes], sweep.runs.map((r) => [r.id, ...axes.map((a) => JSON.stringify(r.params[a]))])));
        return;
      }
      let executor: Executor;
      if (flags.redis) {
        // BullMQ loads only when used (it costs every other command half a second).
        const { DistributedExecutor, probeRedis } = await import('../../experiments/executors/distributed.js');
        await probeRedis(flags.redis);
        executor = new DistributedExecutor({
          redis: flags.redis,
          ...(flags.queue ? { queue: flags.queue } : {}),
          attempts: positiveIntFlag('--retries', flags.retries ?? '3'),
          onInfo: info,
        });
      } else if (flags.workers !== undefined) {
        const n = flags.workers === true ? availableParallelism() : positiveIntFlag('--workers', String(flags.workers));
        executor = new LocalPoolExecutor({ workers: n });
      } else executor = new InProcessExecutor();

      const onSignal = (sig: NodeJS.Signals) => {
        info(`hemlock sweep: ${sig}; stopping (completed runs are kept; run the same command again to resume)`);
        executor.abort?.();
        process.exit(sig === 'SIGINT' ? 130 : 143);
      };
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      let total = 0;
      const started = Date.now();
      try {
        const summary = await runSweep(sweep, {
          store: flags.store,
          executor,
          ...(timeoutMs ? { timeoutMs } : {}),
          onPlan: (p) => {
            total = p.total;
            info(`sweep ${sweep.name} (${sweep.id}): ${p.total} runs, ${p.skipped} already complete, ${p.pending} to run (${executor.kind}${executor instanceof LocalPoolExecutor ? `, ${executor.workers} workers` : ''}); store ${flags.store}`);
          },
          onEvent: (e: SweepEvent) => {
            if (e.type === 'start') info(`run ${e.runId} started${e.worker ? ` on ${e.worker}` : ''} ${JSON.stringify(e.params)}`);
            else {
              const o = e.outcome;
              const what = o.status === 'completed' ? `completed${o.seconds ? ` in ${o.seconds.toFixed(1)} s` : ''}${e.metrics ? `: ${shortMetrics(e.metrics)}` : ''}` : `FAILED: ${o.error}`;
              info(`[${e.finished}/${total}] run ${e.runId} ${what}`);
            }
          },
          ...(flags.verbose ? { onLog: (runId: string, line: string) => info(`  ${runId}: ${line}`) } : {}),
        });
        info(`sweep ${sweep.name}: ${summary.completed} completed, ${summary.failed} failed, ${summary.skipped} skipped (already complete) of ${summary.runs} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
        if (flags.json) printJson(summary);
        else out(`${summary.runs} runs: ${summary.completed} completed, ${summary.failed} failed, ${summary.skipped} already complete. See: hemlock results --store ${flags.store}`);
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
}
