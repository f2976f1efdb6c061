import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { BIN } from '../cli.js';

/** A child process whose output is collected and can be waited on. */
export class Proc {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private listeners: (() => void)[] = [];

  constructor(cmd: string, args: string[], env: Record<string, string> = {}) {
    this.child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout!.on('data', (d: Buffer) => {
      this.stdout += d.toString();
      this.listeners.forEach((l) => l());
    });
    this.child.stderr!.on('data', (d: Buffer) => {
      this.stderr += d.toString();
      this.listeners.forEach((l) => l());
    });
    this.exited = new Promise((resolve) => this.child.on('exit', (code, signal) => resolve({ code, signal })));
  }

  get pid(): number {
    return this.child.pid!;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Resolves with the first match of `re` in stderr+stdout (searching from `from` in stderr). */
  waitFor(re: RegExp, timeoutMs = 60_000, from = 0): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const m = this.stderr.slice(from).match(re) ?? this.stdout.match(re);
        if (m) {
          cleanup();
          resolve(m);
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out waiting for ${re} in:\n${this.stderr.slice(-3000)}`));
      }, timeoutMs);
      const onExit = () => {
        check();
        cleanup();
        reject(new Error(`process exited before ${re}:\n${this.stderr.slice(-3000)}`));
      };
      const cleanup = () => {
        clearTimeout(timer);
        this.listeners = this.listeners.filter((l) => l !== check);
        this.child.off('exit', onExit);
      };
      this.listeners.push(check);
      this.child.on('exit', onExit);
      check();
    });
  }

  /** The last stdout line as JSON (the --json contract). */
  json(): any {
    return JSON.parse(this.stdout.trim().split('\n').at(-1) ?? '');
  }
}

/** Runs the real CLI (bin/hemlock.js → dist) in a child process. */
export function startHemlock(args: string[], env: Record<string, string> = {}): Proc {
  return new Proc(process.execPath, [BIN, ...args], env);
}

export async function waitUntil(cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Run ids under `<store>/runs` with a metrics.json (complete). */
export function completeRuns(store: string): string[] {
  const dir = join(store, 'runs');
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((id) => existsSync(join(dir, id, 'metrics.json')));
}

export function runFolders(store: string): string[] {
  const dir = join(store, 'runs');
  return existsSync(dir) ? readdirSync(dir) : [];
}

export function hasRedisServer(): boolean {
  return spawnSync('redis-server', ['--version']).status === 0;
}

/** A throwaway redis-server on a free port, without persistence. */
export async function startRedis(): Promise<{ url: string; port: number; proc: Proc; stop: () => Promise<void> }> {
  const port = await freePort();
  const proc = new Proc('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']);
  await proc.waitFor(/Ready to accept connections/i, 20_000);
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    proc,
    stop: async () => {
      if (proc.alive) proc.child.kill('SIGTERM');
      await proc.exited;
    },
  };
}
