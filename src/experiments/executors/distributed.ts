import { hostname } from 'node:os';
import { Queue, QueueEvents, UnrecoverableError, WaitingError, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { HemlockInputError } from '../../engine/errors.js';
import { ensureStoreId, isRunComplete, readStoreId, runDirFor } from '../store.js';
import { RunnerProcess } from './runnerProcess.js';
import type { Executor, ExecutorHooks, RunJob, RunOutcome } from './types.js';

/**
 * Distributed execution through BullMQ on Redis.
 *
 * The coordinator (`hemlock sweep --redis URL`) enqueues one job per run that
 * is not complete in the store, with jobId = `run-<run id>`, so a run is never queued
 * twice (re-running the sweep, or a restarted coordinator, adds nothing that
 * is already waiting or active). Workers (`hemlock worker --redis URL`) on any
 * machine take jobs and run each in a child process into the shared store.
 * BullMQ's job lock is the heartbeat: a worker that dies stops renewing it, and
 * the job is moved back to the queue (stalled-job recovery) for another worker,
 * which resumes the run from its last checkpoint. Failed attempts are retried
 * with backoff; a per-job timeout kills a run that overstays.
 *
 * The store's run folders are the truth: the coordinator records a run as
 * completed only when its metrics.json is in the store, and records results as
 * jobs finish (queue events, plus a periodic check that also catches what
 * finished while no coordinator was running).
 */

export const DEFAULT_QUEUE = 'hemlock-runs';

/** A run's job id. BullMQ refuses custom ids that look like integers, which a hex hash can. */
export function jobIdFor(runId: string): string {
  return `run-${runId}`;
}

function runIdOf(jobId: string): string {
  return jobId.startsWith('run-') ? jobId.slice(4) : jobId;
}

export interface RedisOptions {
  /** redis://host:port[/db] */
  redis: string;
  /** Queue name (default hemlock-runs); coordinator and workers must agree. */
  queue?: string;
}

export interface JobResult {
  worker: string;
  seconds?: number;
  alreadyComplete?: boolean;
}

/** The connection options BullMQ passes to ioredis. */
export function redisConnection(url: string): { url: string; maxRetriesPerRequest: null; connectTimeout: number } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new HemlockInputError(`--redis: '${url}' is not a URL (expected redis://host:port)`);
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new HemlockInputError(`--redis: '${url}' is not a redis:// URL`);
  }
  return { url, maxRetriesPerRequest: null, connectTimeout: 5000 };
}

/**
 * Checks once, without retrying, that Redis answers at `url`: a wrong URL or a
 * server that is down is a one-line input error at once, instead of BullMQ
 * reconnecting forever. (Once running, dropped connections are retried.)
 */
export async function probeRedis(url: string, timeoutMs = 5000): Promise<{ version: string }> {
  redisConnection(url);
  const client = new Redis(url, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0, connectTimeout: timeoutMs, enableOfflineQueue: false });
  let cause: string | undefined;
  client.on('error', (e: Error) => (cause ??= e.message.split('\n')[0]));
  try {
    await client.connect();
    const info = await client.info('server');
    const version = /redis_version:([^\r\n]+)/.exec(info)?.[1] ?? 'unknown';
    const major = Number(version.split('.')[0]);
    if (Number.isFinite(major) && major < 5) throw new HemlockInputError(`--redis: Redis ${version} at ${url} is too old for BullMQ (need ≥ 5)`);
    return { version };
  } catch (e) {
    if (e instanceof HemlockInputError) throw e;
    throw new HemlockInputError(`--redis: cannot reach Redis at ${url} (${cause ?? (e as Error).message.split('\n')[0]})`);
  } finally {
    client.disconnect();
  }
}

/** Logs each distinct message at most once a minute (a Redis outage otherwise repeats every retry). */
function throttled(info: (line: string) => void): (line: string) => void {
  const last = new Map<string, number>();
  return (line) => {
    const now = Date.now();
    if ((last.get(line) ?? 0) + 60_000 > now) return;
    last.set(line, now);
    info(line);
  };
}

/** Fails with a one-line input error when Redis cannot be reached within `ms`. */
async function ready(what: { waitUntilReady(): Promise<unknown> }, url: string, ms = 10_000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      what.waitUntilReady(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new HemlockInputError(`--redis: cannot reach Redis at ${url} (no answer in ${ms / 1000} s)`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export interface DistributedOptions extends RedisOptions {
  /** Attempts per run before it is failed (default 3). */
  attempts?: number;
  /** Per-run timeout (ms), carried in each job. */
  timeoutMs?: number;
  /** How often to check outstanding jobs against the queue and the store (ms, default 2000). */
  pollMs?: number;
  onInfo?: (line: string) => void;
}

/** The coordinator side: enqueues runs and waits for each to be final. */
export class DistributedExecutor implements Executor {
  readonly kind = 'distributed' as const;
  private readonly opts: DistributedOptions;
  private stopped = false;

  constructor(opts: DistributedOptions) {
    redisConnection(opts.redis);
    this.opts = opts;
  }

  async run(jobs: RunJob[], store: string, hooks: ExecutorHooks): Promise<void> {
    if (jobs.length === 0) return;
    const name = this.opts.queue ?? DEFAULT_QUEUE;
    const info = this.opts.onInfo ?? (() => {});
    await probeRedis(this.opts.redis);
    const connection = redisConnection(this.opts.redis);
    const queue = new Queue(name, { connection });
    const events = new QueueEvents(name, { connection });
    const warn = throttled(info);
    queue.on('error', (e) => warn(`queue: ${e.message}`));
    events.on('error', (e) => warn(`queue events: ${e.message}`));
    try {
      await ready(queue, this.opts.redis);
      await ready(events, this.opts.redis);
      const outstanding = new Map(jobs.map((j) => [j.runId, j]));
      const settling = new Set<string>();
      const started = new Set<string>();
      let wake: () => void = () => {};

      /** Records a job if it is final (completed or failed for good); returns whether it was. */
      const settle = async (runId: string): Promise<void> => {
        if (!outstanding.has(runId) || settling.has(runId)) return;
        settling.add(runId);
        try {
          let outcome: RunOutcome | null = null;
          if (isRunComplete(runDirFor(store, runId))) {
            const job = await queue.getJob(jobIdFor(runId));
            const rv = job?.returnvalue as JobResult | undefined;
            outcome = { runId, status: 'completed', ...(rv?.worker ? { worker: rv.worker } : {}), ...(rv?.seconds !== undefined ? { seconds: rv.seconds } : {}) };
          } else {
            const state = await queue.getJobState(jobIdFor(runId));
            if (state === 'failed') {
              const job = await queue.getJob(jobIdFor(runId));
              outcome = { runId, status: 'failed', error: job?.failedReason || 'failed' };
            } else if (state === 'completed') {
              const rv = (await queue.getJob(jobIdFor(runId)))?.returnvalue as JobResult | undefined;
              outcome = {
                runId,
                status: 'failed',
                error: `worker ${rv?.worker ?? '?'} reported run ${runId} complete, but ${runDirFor(store, runId)}/metrics.json is not there: do coordinator and workers share --store?`,
              };
            } else if (state === 'unknown') {
              // The job vanished (Redis flushed, or removed by hand): queue it again.
              info(`run ${runId}: job missing from the queue; enqueuing it again`);
              await enqueue(outstanding.get(runId)!);
            }
          }
          if (outcome) {
            outstanding.delete(runId);
            await hooks.onDone(outcome);
            if (outstanding.size === 0) wake();
          }
        } finally {
          settling.delete(runId);
        }
      };

      const storeId = ensureStoreId(store);
      const enqueue = async (job: RunJob): Promise<void> => {
        await queue.add('run', { ...job, storeId }, {
          jobId: jobIdFor(job.runId),
          attempts: this.opts.attempts ?? 3,
          backoff: { type: 'exponential', delay: 1000 },
          removeOnComplete: { age: 7 * 24 * 3600, count: 100_000 },
          removeOnFail: { age: 7 * 24 * 3600, count: 100_000 },
        });
      };

      events.on('progress', ({ jobId, data }) => {
        const runId = runIdOf(jobId);
        const d = data as { worker?: string; attempt?: number } | undefined;
        const key = `${runId}#${d?.attempt ?? 0}`;
        if (outstanding.has(runId) && d?.worker && !started.has(key)) {
          started.add(key);
          hooks.onStart(runId, d.worker);
        }
      });
      // A lost Redis reply is not fatal: the periodic check below settles the job later.
      const trySettle = (runId: string) => settle(runId).catch((e: unknown) => warn(`run ${runId}: ${(e as Error).message}`));
      events.on('completed', ({ jobId }) => void trySettle(runIdOf(jobId)));
      events.on('failed', ({ jobId }) => void trySettle(runIdOf(jobId)));

      // Enqueue: a job that is waiting, delayed or active stays as it is (same
      // jobId: deduplicated); a finished job whose run is not complete in the
      // store (it failed, or its folder was removed) is replaced by a fresh one.
      for (const job of jobs) {
        const state = await queue.getJobState(jobIdFor(job.runId));
        if (state === 'completed' && isRunComplete(runDirFor(store, job.runId))) continue; // finished just now: settled below
        if (state === 'completed' || state === 'failed') {
          try {
            await queue.remove(jobIdFor(job.runId));
          } catch {
            // Locked by a worker that just took it again: it stays.
          }
        } else if (state !== 'unknown') {
          info(`run ${job.runId}: already ${state} in the queue`);
        }
        await enqueue(job);
      }

      const done = new Promise<void>((resolve) => {
        wake = resolve;
      });
      const pollMs = this.opts.pollMs ?? 2000;
      for (;;) {
        for (const id of [...outstanding.keys()]) await trySettle(id);
        if (outstanding.size === 0 || this.stopped) break;
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([done, new Promise((r) => (timer = setTimeout(r, pollMs)))]);
        clearTimeout(timer);
      }
    } finally {
      await events.close().catch(() => {});
      await queue.close().catch(() => {});
    }
  }

  abort(): void {
    this.stopped = true;
  }
}

export interface WorkerOptions extends RedisOptions {
  /** The store directory (shared with the coordinator and the other workers). */
  store: string;
  /** Jobs run at once by this worker, each in its own child process (default 1). */
  concurrency?: number;
  /** Lock duration (ms): a job whose lock is not renewed for this long is taken for stalled (default 30000). */
  lockDurationMs?: number;
  /** Per-run timeout (ms) used when a job does not carry one. */
  timeoutMs?: number;
  /** On SIGTERM, how long to let the current job finish before releasing it back to the queue (ms, default 30000). */
  graceMs?: number;
  /** Worker name (default host-pid). */
  name?: string;
  onInfo?: (line: string) => void;
  onLog?: (runId: string, line: string) => void;
}

export interface RunningWorker {
  name: string;
  /** Resolves when the worker has shut down. */
  closed: Promise<void>;
  /**
   * Stops taking jobs; lets the current ones finish within the grace period,
   * then releases what is still running back to the queue (it resumes from its
   * checkpoint elsewhere). `now` releases at once.
   */
  shutdown(now?: boolean): Promise<void>;
}

/** The worker side: takes jobs from the queue and runs them into the store until shut down. */
export async function startWorker(opts: WorkerOptions): Promise<RunningWorker> {
  const name = opts.name ?? `${hostname()}-${process.pid}`;
  const info = opts.onInfo ?? (() => {});
  await probeRedis(opts.redis);
  const connection = redisConnection(opts.redis);
  const queueName = opts.queue ?? DEFAULT_QUEUE;
  const lockDuration = opts.lockDurationMs ?? 30_000;
  const idle: RunnerProcess[] = [];
  const active = new Map<string, { proc: RunnerProcess; release: boolean }>();
  let slot = 0;

  const acquire = async (): Promise<RunnerProcess> => {
    for (let p = idle.pop(); p; p = idle.pop()) if (p.alive) return p;
    return RunnerProcess.start(`${name}/${++slot}`, opts.onLog);
  };

  const processor = async (job: Job<RunJob, JobResult>, token?: string): Promise<JobResult> => {
    const data = job.data;
    const attempt = job.attemptsMade + 1;
    const mine = readStoreId(opts.store);
    if (data.storeId && mine !== data.storeId) {
      const msg = `worker ${name}: --store ${opts.store} is not the coordinator's store (its store.json ${mine ? `says ${mine}` : 'is missing'}, the job's store is ${data.storeId}): give every worker the shared store directory`;
      info(msg);
      throw new Error(msg);
    }
    const proc = await acquire();
    const entry = { proc, release: false };
    active.set(data.runId, entry);
    try {
      info(`worker ${name}: run ${data.runId} started (attempt ${attempt}, pid ${proc.pid})`);
      await job.updateProgress({ worker: name, attempt: job.attemptsStarted });
      const outcome = await proc.run(data, opts.store, data.timeoutMs ?? opts.timeoutMs);
      if (entry.release) {
        info(`worker ${name}: run ${data.runId} released back to the queue`);
        await job.moveToWait(token);
        throw new WaitingError();
      }
      if (outcome.status === 'failed') {
        info(`worker ${name}: run ${data.runId} failed: ${outcome.error}`);
        if (outcome.permanent) throw new UnrecoverableError(outcome.error);
        throw new Error(outcome.error ?? 'failed');
      }
      info(`worker ${name}: run ${data.runId} completed${outcome.alreadyComplete ? ' (already complete in the store)' : ` in ${(outcome.seconds ?? 0).toFixed(1)} s`}`);
      return { worker: name, ...(outcome.seconds !== undefined ? { seconds: outcome.seconds } : {}), ...(outcome.alreadyComplete ? { alreadyComplete: true } : {}) };
    } finally {
      active.delete(data.runId);
      if (proc.alive) idle.push(proc);
    }
  };

  const worker = new Worker<RunJob, JobResult>(queueName, processor, {
    connection,
    name,
    concurrency: Math.max(1, opts.concurrency ?? 1),
    lockDuration,
    stalledInterval: lockDuration,
    maxStalledCount: 2,
    autorun: false,
  });
  const warn = throttled(info);
  worker.on('error', (e) => warn(`worker ${name}: ${e.message}`));
  try {
    await ready(worker, opts.redis);
  } catch (e) {
    await worker.close(true).catch(() => {});
    throw e;
  }
  const running = worker.run();
  info(`worker ${name}: taking jobs from queue '${queueName}' at ${opts.redis}; store ${opts.store}`);

  let closing: Promise<void> | null = null;
  let graceTimer: NodeJS.Timeout | undefined;
  const releaseAll = () => {
    for (const [runId, e] of active) {
      e.release = true;
      e.proc.kill(`released run ${runId}`);
    }
  };
  const shutdown = (now = false): Promise<void> => {
    if (now) releaseAll();
    if (!closing) {
      info(`worker ${name}: shutting down${active.size ? ` (${active.size} job${active.size > 1 ? 's' : ''} running)` : ''}`);
      graceTimer = setTimeout(releaseAll, opts.graceMs ?? 30_000);
      closing = worker
        .close()
        .then(() => running)
        .finally(async () => {
          clearTimeout(graceTimer);
          await Promise.all(idle.splice(0).map((p) => p.stop()));
          info(`worker ${name}: stopped`);
        });
    }
    return closing;
  };
  const closed = running.then(async () => {
    if (closing) await closing;
  });
  return { name, closed, shutdown };
}
