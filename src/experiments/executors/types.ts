import type { Experiment } from '../schema.js';

/** One run of a sweep, as handed to an executor (and, serialised, to a worker). */
export interface RunJob {
  /** The content hash of `spec`; also the run folder's name under `<store>/runs/`. */
  runId: string;
  /** The resolved experiment spec. */
  spec: Experiment;
  /** The sweep axis values that made this run. */
  params: Record<string, unknown>;
  /** Kill the run after this long (ms); it then fails (and, distributed, is retried). */
  timeoutMs?: number;
  /** The identity of the store the coordinator records from (distributed: workers check theirs matches). */
  storeId?: string;
}

export interface RunOutcome {
  runId: string;
  status: 'completed' | 'failed';
  error?: string;
  /** True when a bad or mismatched spec makes retrying pointless. */
  permanent?: boolean;
  /** The run folder was already complete, so nothing ran. */
  alreadyComplete?: boolean;
  seconds?: number;
  /** Who ran it (`host-pid`, `pool-1`). */
  worker?: string;
}

export interface ExecutorHooks {
  onStart(runId: string, worker: string | null): void;
  /** Called exactly once per job, when it is final. */
  onDone(outcome: RunOutcome): void | Promise<void>;
  onLog?(runId: string, line: string): void;
}

export interface Executor {
  readonly kind: 'in-process' | 'local-pool' | 'distributed';
  /** Runs the jobs (run folders under `<store>/runs/`), reporting each; resolves when all are final. */
  run(jobs: RunJob[], store: string, hooks: ExecutorHooks): Promise<void>;
  /** Stops at once (a signal): kills what it started. */
  abort?(): void;
}
