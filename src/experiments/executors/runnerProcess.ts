import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PACKAGE_ROOT } from '../environment.js';
import type { RunJob, RunOutcome } from './types.js';

export type ChildRequest = { type: 'run'; job: RunJob; store: string; worker: string };
export type ChildMessage =
  | { type: 'ready'; pid: number }
  | { type: 'log'; runId: string; line: string }
  | { type: 'result'; outcome: RunOutcome };

/** The compiled child entry point (dist/…/child.js), also when this module runs from TypeScript sources. */
export function childScriptPath(): string {
  const here = fileURLToPath(import.meta.url);
  const sibling = join(dirname(here), 'child.js');
  if (here.endsWith('.js') && existsSync(sibling)) return sibling;
  const built = join(PACKAGE_ROOT, 'dist', 'experiments', 'executors', 'child.js');
  if (!existsSync(built)) throw new Error(`${built} is missing: build hemlock first (npm run build)`);
  return built;
}

/**
 * One child process that runs jobs (executeRun) for its parent, one at a
 * time. Tensor work stays off the parent's event loop, so the parent keeps
 * answering (queue heartbeats, signals) and can kill a run that overstays
 * its timeout. A child whose parent dies exits by itself.
 */
export class RunnerProcess {
  readonly name: string;
  private child: ChildProcess;
  private current: { runId: string; resolve: (o: RunOutcome) => void; timer?: NodeJS.Timeout; reason?: string } | null = null;
  private exited = false;
  private readonly onLog: ((runId: string, line: string) => void) | undefined;

  private constructor(name: string, child: ChildProcess, onLog?: (runId: string, line: string) => void) {
    this.name = name;
    this.child = child;
    this.onLog = onLog;
    child.on('message', (raw) => {
      const msg = raw as ChildMessage;
      if (msg.type === 'log') this.onLog?.(msg.runId, msg.line);
      else if (msg.type === 'result' && this.current && msg.outcome.runId === this.current.runId) this.finish(msg.outcome);
    });
    child.on('exit', (code, signal) => {
      this.exited = true;
      const c = this.current;
      if (c) this.finish({ runId: c.runId, status: 'failed', error: c.reason ?? `runner process exited (${signal ?? `code ${code}`}) during the run` });
    });
  }

  /** Forks a child and waits until it is ready. */
  static start(name: string, onLog?: (runId: string, line: string) => void, opts: { threads?: number } = {}): Promise<RunnerProcess> {
    // A pool shares the cores between its workers: each gets its share of
    // wasm threads (unless the user fixed HEMLOCK_THREADS), so N workers do
    // not start N × cores threads that fight over the same cores.
    const env = opts.threads && !process.env.HEMLOCK_THREADS ? { ...process.env, HEMLOCK_THREADS: String(opts.threads) } : process.env;
    const child = fork(childScriptPath(), [], {
      env,
      // The child's stdout goes to our stderr: stdout is kept for --json.
      stdio: ['ignore', 2, 2, 'ipc'],
      execArgv: [],
      serialization: 'advanced',
    });
    return new Promise((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`runner process failed to start (exit code ${code})`));
      child.once('exit', onExit);
      child.once('error', reject);
      child.once('message', (m) => {
        child.off('exit', onExit);
        if ((m as ChildMessage).type === 'ready') resolve(new RunnerProcess(name, child, onLog));
        else reject(new Error('runner process sent an unexpected first message'));
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get alive(): boolean {
    return !this.exited;
  }

  get busy(): boolean {
    return this.current !== null;
  }

  private finish(outcome: RunOutcome): void {
    const c = this.current;
    if (!c) return;
    if (c.timer) clearTimeout(c.timer);
    this.current = null;
    c.resolve({ worker: this.name, ...outcome });
  }

  /** Runs one job; a timeout kills the child (the outcome is then a failure, and this runner is dead). */
  run(job: RunJob, store: string, timeoutMs?: number): Promise<RunOutcome> {
    if (this.exited) return Promise.resolve({ runId: job.runId, status: 'failed', error: 'runner process is not running' });
    if (this.current) throw new Error('RunnerProcess.run: already running a job');
    return new Promise((resolve) => {
      this.current = { runId: job.runId, resolve };
      if (timeoutMs && timeoutMs > 0) {
        this.current.timer = setTimeout(() => this.kill(`timed out after ${(timeoutMs / 1000).toFixed(1)} s`), timeoutMs);
      }
      this.child.send({ type: 'run', job, store, worker: this.name } satisfies ChildRequest);
    });
  }

  /** Kills the child at once; a job it was running fails with `reason`. */
  kill(reason = 'runner process killed'): void {
    if (this.current) this.current.reason = reason;
    if (!this.exited) this.child.kill('SIGKILL');
  }

  /** Ends an idle child politely (it exits when the IPC channel closes). */
  async stop(): Promise<void> {
    if (this.exited) return;
    await new Promise<void>((resolve) => {
      this.child.once('exit', () => resolve());
      if (this.current) this.kill('runner stopped');
      else if (this.child.connected) this.child.disconnect();
      else this.child.kill('SIGKILL');
    });
  }
}
