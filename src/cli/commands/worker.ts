import type { Command } from 'commander';
import { info } from '../output.js';
import { positiveIntFlag, positiveNumberFlag } from './sweep.js';

interface WorkerFlags {
  redis: string;
  store: string;
  queue: string;
  concurrency: string;
  lockDuration: string;
  jobTimeout?: string;
  grace: string;
  name?: string;
  verbose?: boolean;
}

export function registerWorker(program: Command): void {
  program
    .command('worker')
    .description('take sweep runs from Redis (BullMQ) and run them into the shared store, until SIGTERM')
    .requiredOption('--redis <url>', 'Redis URL (redis://host:port)')
    .requiredOption('--store <dir>', 'the store directory, shared with the coordinator and the other workers')
    .option('--queue <name>', 'queue name', 'hemlock-runs')
    .option('--concurrency <n>', 'runs at once, each in its own process', '1')
    .option('--lock-duration <ms>', 'heartbeat lock: a job not renewed for this long is recovered by another worker', '30000')
    .option('--job-timeout <seconds>', 'kill (and retry) a run that takes longer than this, unless the sweep set one')
    .option('--grace <seconds>', 'on SIGTERM, let the current run finish for this long, then release it to the queue', '30')
    .option('--name <name>', 'worker name (default host-pid)')
    .option('--verbose', "print every run's log lines")
    .action(async (flags: WorkerFlags) => {
      const { startWorker } = await import('../../experiments/executors/distributed.js');
      const w = await startWorker({
        redis: flags.redis,
        store: flags.store,
        queue: flags.queue,
        concurrency: positiveIntFlag('--concurrency', flags.concurrency),
        lockDurationMs: positiveIntFlag('--lock-duration', flags.lockDuration),
        graceMs: Math.round(positiveNumberFlag('--grace', flags.grace) * 1000),
        ...(flags.jobTimeout !== undefined ? { timeoutMs: positiveNumberFlag('--job-timeout', flags.jobTimeout) * 1000 } : {}),
        ...(flags.name ? { name: flags.name } : {}),
        onInfo: info,
        ...(flags.verbose ? { onLog: (runId: string, line: string) => info(`  ${runId}: ${line}`) } : {}),
      });
      let signals = 0;
      const onSignal = (sig: NodeJS.Signals) => {
        signals++;
        info(`worker ${w.name}: ${sig}${signals > 1 ? ' again: releasing the current run now' : ''}`);
        void w.shutdown(signals > 1);
      };
      process.on('SIGTERM', onSignal);
      process.on('SIGINT', onSignal);
      await w.closed;
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
    });
}
