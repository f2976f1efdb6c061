import { availableParallelism } from 'node:os';
import { RunnerProcess } from './runnerProcess.js';
import type { Executor, ExecutorHooks, RunJob } from './types.js';

export interface LocalPoolOptions {
  /** Worker processes (default: one per core). */
  workers?: number;
  /** Per-run timeout (ms); a run that overstays it is killed and fails. */
  timeoutMs?: number;
}

/**
 * A pool of worker processes on this machine, one per core by default. Each
 * worker is a forked child that runs experiments (runExperiment) and reports
 * back; the pool hands out the jobs and records results as they arrive. A
 * worker that dies or times out is replaced. Killing the coordinator kills
 * its workers (they notice their parent is gone).
 */
export class LocalPoolExecutor implements Executor {
  readonly kind = 'local-pool' as const;
  readonly workers: number;
  private readonly timeoutMs: number | undefined;
  private readonly procs = new Set<RunnerProcess>();

  constructor(opts: LocalPoolOptions = {}) {
    this.workers = Math.max(1, Math.floor(opts.workers ?? availableParallelism()));
    this.timeoutMs = opts.timeoutMs;
  }

  private async spawn(slot: number, hooks: ExecutorHooks): Promise<RunnerProcess> {
    const p = await RunnerProcess.start(`pool-${slot}`, hooks.onLog, { threads: Math.max(1, Math.floor(availableParallelism() / this.workers)) });
    this.procs.add(p);
    return p;
  }

  async run(jobs: RunJob[], store: string, hooks: ExecutorHooks): Promise<void> {
    const queue = [...jobs];
    const slots = Math.min(this.workers, queue.length);
    const loop = async (slot: number) => {
      let proc: RunnerProcess | null = null;
      try {
        for (let job = queue.shift(); job; job = queue.shift()) {
          if (!proc || !proc.alive) {
            if (proc) this.procs.delete(proc);
            proc = await this.spawn(slot, hooks);
          }
          hooks.onStart(job.runId, `${proc.name} (pid ${proc.pid})`);
          const outcome = await proc.run(job, store, job.timeoutMs ?? this.timeoutMs);
          await hooks.onDone(outcome);
        }
      } finally {
        if (proc) {
          await proc.stop();
          this.procs.delete(proc);
        }
      }
    };
    await Promise.all(Array.from({ length: slots }, (_, i) => loop(i + 1)));
  }

  abort(): void {
    for (const p of this.procs) p.kill('sweep aborted');
  }
}
