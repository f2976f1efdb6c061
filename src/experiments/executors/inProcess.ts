import { executeRun } from './runOne.js';
import type { Executor, ExecutorHooks, RunJob } from './types.js';

/** Runs the jobs one after another in this process (the default executor). */
export class InProcessExecutor implements Executor {
  readonly kind = 'in-process' as const;

  async run(jobs: RunJob[], store: string, hooks: ExecutorHooks): Promise<void> {
    const worker = `in-process-${process.pid}`;
    for (const job of jobs) {
      hooks.onStart(job.runId, worker);
      const outcome = await executeRun(job, store, { worker, ...(hooks.onLog ? { onLog: (l) => hooks.onLog!(job.runId, l) } : {}) });
      await hooks.onDone(outcome);
    }
  }
}
