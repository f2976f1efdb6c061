import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ResultsDb } from '../src/experiments/resultsDb.js';
import { completeRuns, hasRedisServer, pidAlive, runFolders, startHemlock, startRedis, waitUntil, type Proc } from './helpers/procs.js';

/**
 * Distributed sweeps against a real redis-server (started here on a free port,
 * no persistence): workers in separate processes, a worker SIGKILLed mid-job,
 * the coordinator SIGKILLed and restarted. Runs are tiny supervised
 * experiments (ConvNet-S with small widths on 200 Fashion-MNIST images), each
 * a second or two.
 */

const LOCK_MS = '1500';

function writeSweep(dir: string, name: string): string {
  const path = join(dir, `${name}.json`);
  writeFileSync(
    path,
    JSON.stringify({
      name,
      base: {
        data: { dataset: 'fashion-mnist-mini', trainLimit: 200, testLimit: 100 },
        model: { architecture: 'convnet-s', options: { widths: [8, 16, 32] } },
        train: { epochs: 3, batchSize: 50 },
        backend: 'wasm',
      },
      grid: { seed: [0, 1, 2, 3, 4, 5], 'train.optimizer': [{ kind: 'sgd' }, { kind: 'adam' }] },
    }),
  );
  return path;
}

/** How many times each run id was reported completed across the worker logs. */
function completions(workers: Proc[]): Map<string, number> {
  const n = new Map<string, number>();
  for (const w of workers) for (const m of w.stderr.matchAll(/run ([0-9a-f]{12}) completed in/g)) n.set(m[1]!, (n.get(m[1]!) ?? 0) + 1);
  return n;
}

function checkStore(store: string, runs: number): void {
  // Exactly one folder per run, every one complete.
  expect(runFolders(store).sort()).toEqual(completeRuns(store).sort());
  expect(completeRuns(store)).toHaveLength(runs);
  const db = ResultsDb.open(store);
  try {
    const c = db.counts();
    expect(c.runs).toBe(runs);
    expect(c.distinctRuns).toBe(runs);
    const rows = db.listRuns();
    expect(rows.every((r) => r.status === 'completed')).toBe(true);
    expect(rows.every((r) => typeof r.metrics.testAccuracy === 'number')).toBe(true);
    expect(new Set(rows.map((r) => r.id))).toEqual(new Set(completeRuns(store)));
  } finally {
    db.close();
  }
}

const redisAvailable = hasRedisServer();
if (!redisAvailable) console.error('redis-server is not installed (CI installs it with apt): the distributed tests fail');

describe('distributed sweeps on Redis (BullMQ)', () => {
  let redis: Awaited<ReturnType<typeof startRedis>>;
  const procs: Proc[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'hemlock-dist-'));
  const start = (args: string[]) => {
    const p = startHemlock(args);
    procs.push(p);
    return p;
  };
  const worker = (store: string, queue: string) => start(['worker', '--redis', redis.url, '--store', store, '--queue', queue, '--lock-duration', LOCK_MS, '--grace', '5']);

  beforeAll(async () => {
    expect(redisAvailable, 'redis-server must be installed').toBe(true);
    redis = await startRedis();
  });

  afterAll(async () => {
    for (const p of procs) if (p.alive) p.child.kill('SIGKILL');
    await Promise.all(procs.map((p) => p.exited));
    await redis?.stop();
  });

  it('two workers complete a 12-run sweep; a worker SIGKILLed mid-job loses and duplicates nothing', { timeout: 400_000 }, async () => {
    const store = join(dir, 'store-a');
    const spec = writeSweep(dir, 'dist-a');
    const a = worker(store, 'qa');
    const b = worker(store, 'qa');
    await Promise.all([a.waitFor(/taking jobs/), b.waitFor(/taking jobs/)]);
    const coord = start(['sweep', spec, '--redis', redis.url, '--queue', 'qa', '--store', store, '--json']);

    // Kill worker A in the middle of its second run.
    await a.waitFor(/run [0-9a-f]{12} completed/);
    const m = await a.waitFor(/run ([0-9a-f]{12}) started \(attempt \d+, pid (\d+)\)/, 60_000, a.stderr.search(/completed/));
    const killedRun = m[1]!;
    const runnerPid = Number(m[2]);
    await waitUntil(() => existsSync(join(store, 'runs', killedRun, 'manifest.json')), 10_000, 'the run folder');
    const completeAtKill = existsSync(join(store, 'runs', killedRun, 'metrics.json'));
    a.child.kill('SIGKILL');
    await a.exited;
    expect(completeAtKill, 'the kill should land mid-run').toBe(false);
    // Its runner process notices and exits; the job is recovered by B after the lock expires.
    await waitUntil(() => !pidAlive(runnerPid), 15_000, 'the killed worker’s runner process to exit');

    const { code } = await coord.exited;
    expect(code, coord.stderr).toBe(0);
    expect(coord.json()).toEqual({ runs: 12, completed: 12, failed: 0, skipped: 0 });
    checkStore(store, 12);

    // The killed run was finished by B, resuming the same folder.
    expect(b.stderr).toContain(`run ${killedRun} completed`);
    const manifest = JSON.parse(readFileSync(join(store, 'runs', killedRun, 'manifest.json'), 'utf8'));
    expect(manifest.status).toBe('completed');
    expect(manifest.resumedAt?.length).toBeGreaterThanOrEqual(1);
    // Every run was completed exactly once, across both workers.
    const done = completions([a, b]);
    expect([...done.keys()].sort()).toEqual(completeRuns(store).sort());
    expect([...done.values()].every((n) => n === 1)).toBe(true);
    expect(a.stderr).not.toContain(`run ${killedRun} completed`);

    // SIGTERM: an idle worker stops cleanly.
    b.child.kill('SIGTERM');
    expect((await b.exited).code).toBe(0);
    expect(b.stderr).toMatch(/stopped/);
  });

  it('SIGTERM releases a running job back to the queue when the grace period ends; another worker resumes it', { timeout: 400_000 }, async () => {
    const store = join(dir, 'store-c');
    const spec = join(dir, 'dist-c.json');
    writeFileSync(
      spec,
      JSON.stringify({
        name: 'dist-c',
        base: {
          data: { dataset: 'fashion-mnist-mini', trainLimit: 200, testLimit: 100 },
          model: { architecture: 'convnet-s', options: { widths: [8, 16, 32] } },
          train: { epochs: 16, batchSize: 50 },
          backend: 'wasm',
        },
        grid: { seed: [0] },
      }),
    );
    const a = start(['worker', '--redis', redis.url, '--store', store, '--queue', 'qc', '--lock-duration', LOCK_MS, '--grace', '0.3']);
    await a.waitFor(/taking jobs/);
    const coord = start(['sweep', spec, '--redis', redis.url, '--queue', 'qc', '--store', store, '--json']);
    const m = await a.waitFor(/run ([0-9a-f]{12}) started/);
    const runId = m[1]!;
    await waitUntil(() => existsSync(join(store, 'runs', runId, 'checkpoint')), 60_000, 'a first checkpoint');
    a.child.kill('SIGTERM');
    expect((await a.exited).code).toBe(0);
    expect(a.stderr).toContain(`run ${runId} released back to the queue`);
    expect(existsSync(join(store, 'runs', runId, 'metrics.json'))).toBe(false);

    // The job went back to waiting (not failed, no attempt used): a new worker takes it and resumes.
    const b = worker(store, 'qc');
    expect((await coord.exited).code, coord.stderr).toBe(0);
    expect(coord.json()).toEqual({ runs: 1, completed: 1, failed: 0, skipped: 0 });
    expect(b.stderr).toMatch(new RegExp(`run ${runId} started \\(attempt 1,`));
    const manifest = JSON.parse(readFileSync(join(store, 'runs', runId, 'manifest.json'), 'utf8'));
    expect(manifest.resumedAt?.length).toBeGreaterThanOrEqual(1);
    expect(readFileSync(join(store, 'runs', runId, 'log.txt'), 'utf8')).toMatch(/resumed from the checkpoint after epoch \d/);
    checkStore(store, 1);
    b.child.kill('SIGTERM');
    expect((await b.exited).code).toBe(0);
  });

  it('a coordinator SIGKILLed mid-sweep and restarted finishes the sweep, nothing redone or duplicated', { timeout: 400_000 }, async () => {
    const store = join(dir, 'store-b');
    const spec = writeSweep(dir, 'dist-b');
    const a = worker(store, 'qb');
    const b = worker(store, 'qb');
    await Promise.all([a.waitFor(/taking jobs/), b.waitFor(/taking jobs/)]);
    const first = start(['sweep', spec, '--redis', redis.url, '--queue', 'qb', '--store', store, '--json']);
    await waitUntil(() => completeRuns(store).length >= 4, 120_000, '4 completed runs');
    first.child.kill('SIGKILL');
    await first.exited;
    expect(completeRuns(store).length).toBeLessThan(12);

    // Workers keep going meanwhile; the new coordinator adds nothing already queued.
    const second = start(['sweep', spec, '--redis', redis.url, '--queue', 'qb', '--store', store, '--json']);
    const { code } = await second.exited;
    expect(code, second.stderr).toBe(0);
    const summary = second.json();
    expect(summary.runs).toBe(12);
    expect(summary.failed).toBe(0);
    expect(summary.skipped).toBeGreaterThanOrEqual(4);
    expect(summary.completed + summary.skipped).toBe(12);
    checkStore(store, 12);
    const done = completions([a, b]);
    expect([...done.keys()].sort()).toEqual(completeRuns(store).sort());
    expect([...done.values()].every((n) => n === 1)).toBe(true);

    // Once more: everything is skipped, no job is enqueued.
    const third = start(['sweep', spec, '--redis', redis.url, '--queue', 'qb', '--store', store, '--json']);
    expect((await third.exited).code).toBe(0);
    expect(third.json()).toEqual({ runs: 12, completed: 0, failed: 0, skipped: 12 });
    checkStore(store, 12);
    for (const w of [a, b]) w.child.kill('SIGTERM');
    for (const w of [a, b]) expect((await w.exited).code).toBe(0);
  });
});
