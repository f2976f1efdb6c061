import { join } from 'node:path';
import { runExperiment } from '../runner.js';
import { specHash } from '../records.js';
import { validateExperiment } from '../spec.js';
import { isRunComplete, runDirFor } from '../store.js';
import type { StepProgress } from '../../train/trainer.js';
import type { RunJob, RunOutcome } from './types.js';

export interface ExecuteOptions {
  onLog?: (line: string) => void;
  onStep?: (p: StepProgress) => void;
  worker?: string;
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Runs one job into `<store>/runs/<runId>/` in this process: a run folder that
 * is already complete is not run again; an interrupted one resumes from its
 * checkpoint. The spec is re-validated here and must hash to the job's id — a
 * worker whose hemlock resolves the spec differently refuses it rather than
 * filing a result under the wrong id. Never throws: failures are outcomes.
 */
export async function executeRun(job: RunJob, store: string, opts: ExecuteOptions = {}): Promise<RunOutcome> {
  const base = { runId: job.runId, ...(opts.worker ? { worker: opts.worker } : {}) };
  let runDir: string;
  try {
    runDir = runDirFor(store, job.runId);
  } catch (e) {
    return { ...base, status: 'failed', error: message(e), permanent: true };
  }
  if (isRunComplete(runDir)) return { ...base, status: 'completed', alreadyComplete: true, seconds: 0 };
  let exp;
  try {
    exp = validateExperiment(job.spec, `run ${job.runId}`);
  } catch (e) {
    return { ...base, status: 'failed', error: message(e), permanent: true };
  }
  const hash = specHash(exp);
  if (hash !== job.runId) {
    return {
      ...base,
      status: 'failed',
      permanent: true,
      error: `run ${job.runId}: this hemlock resolves the spec to id ${hash} (a different hemlock version on this worker?)`,
    };
  }
  const t0 = performance.now();
  try {
    // The stage cache (encoders, features, brewing models) lives in the store, so
    // every run of the sweep on every worker that sees the store shares it.
    const cacheDir = process.env.HEMLOCK_CACHE_DIR || join(store, 'cache');
    await runExperiment(exp, { runDir, cacheDir, ...(opts.onLog ? { onLog: opts.onLog } : {}), ...(opts.onStep ? { onStep: opts.onStep } : {}) });
    return { ...base, status: 'completed', seconds: (performance.now() - t0) / 1000 };
  } catch (e) {
    return { ...base, status: 'failed', error: message(e), seconds: (performance.now() - t0) / 1000 };
  }
}
