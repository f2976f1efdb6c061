import { existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HemlockInputError } from '../engine/errors.js';
import { specHash } from './records.js';
import { ResultsDb } from './resultsDb.js';
import { expandSweep, getPath, runSweep, setPath, validateSweep } from './sweep.js';
import { runDirFor } from './store.js';
import type { Executor, ExecutorHooks, RunJob } from './executors/types.js';

const base = { data: { dataset: 'fashion-mnist-mini', trainLimit: 200 }, model: { architecture: 'mlp' }, train: { epochs: 1 } };

function expand(raw: unknown) {
  return expandSweep(validateSweep(raw, 'sweep.yaml'), 'sweep.yaml');
}

function inputError(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(HemlockInputError);
    return (e as Error).message;
  }
  throw new Error('expected a HemlockInputError');
}

describe('sweep expansion', () => {
  it('crosses grid axes (first slowest) with zip groups (advancing together); ids are spec hashes', () => {
    const s = expand({
      name: 'demo',
      base,
      grid: { seed: [0, 1], 'train.epochs': [1, 2] },
      zip: [{ 'train.optimizer': [{ kind: 'sgd', lr: 0.1 }, { kind: 'adam' }], 'train.batchSize': [32, 64] }],
    });
    expect(s.combinations).toBe(8);
    expect(s.runs).toHaveLength(8);
    expect(s.runs.map((r) => [r.params.seed, r.params['train.epochs'], r.params['train.batchSize']])).toEqual([
      [0, 1, 32], [0, 1, 64], [0, 2, 32], [0, 2, 64],
      [1, 1, 32], [1, 1, 64], [1, 2, 32], [1, 2, 64],
    ]);
    for (const r of s.runs) {
      expect(r.id).toBe(specHash(r.spec));
      expect(r.spec.name).toBe('demo');
      expect(r.spec.seed).toBe(r.params.seed);
      expect(r.spec.train.epochs).toBe(r.params['train.epochs']);
      expect(r.spec.train.batchSize).toBe(r.params['train.batchSize']);
      // Defaults are filled in: the resolved spec.
      expect(r.spec.train.optimizer.kind).toBe(r.params['train.batchSize'] === 32 ? 'sgd' : 'adam');
      expect(r.spec.train.optimizer.lr).toBe(r.params['train.batchSize'] === 32 ? 0.1 : 1e-3);
    }
    expect(new Set(s.runs.map((r) => r.id)).size).toBe(8);
    // The same sweep expands to the same ids; a different one to a different sweep id.
    const again = expand({ name: 'demo', base, grid: { seed: [0, 1], 'train.epochs': [1, 2] }, zip: [{ 'train.optimizer': [{ kind: 'sgd', lr: 0.1 }, { kind: 'adam' }], 'train.batchSize': [32, 64] }] });
    expect(again.runs.map((r) => r.id)).toEqual(s.runs.map((r) => r.id));
    expect(again.id).toBe(s.id);
    expect(expand({ name: 'demo', base, grid: { seed: [0] } }).id).not.toBe(s.id);
  });

  it('runs combinations that resolve to the same spec once', () => {
    // epochs 10 is the default: {} and {epochs: 10} resolve alike.
    const s = expand({ base: { ...base, train: {} }, grid: { 'train.epochs': [10, 3, 10] } });
    expect(s.combinations).toBe(3);
    expect(s.runs).toHaveLength(2);
    expect(s.duplicates).toEqual([{ index: 2, params: { 'train.epochs': 10 }, sameAs: s.runs[0]!.id }]);
  });

  it('an empty grid is the base experiment alone, named after the sweep', () => {
    const s = expand({ name: 'solo', base });
    expect(s.runs).toHaveLength(1);
    expect(s.runs[0]!.spec.name).toBe('solo');
    expect(s.runs[0]!.params).toEqual({});
  });

  it('names the sweep file, the combination and the field in errors', () => {
    expect(inputError(() => expand({ base, grid: { 'train.epochs': [1, -2] } }))).toBe(
      'sweep.yaml run 2 {train.epochs=-2}: train.epochs: expected positive integer, got -2',
    );
    expect(inputError(() => expand({ base, grid: { 'train.epoch': [1] } }))).toMatch(/run 1 \{train\.epoch=1\}: train: unknown key 'epoch'/);
    expect(inputError(() => expand({ base, zip: [{ seed: [0, 1], 'train.epochs': [1] }] }))).toMatch(/zip\[0\]\.train\.epochs: zip axes must have equal lengths/);
    expect(inputError(() => expand({ base, grid: { train: [{}], 'train.epochs': [1] } }))).toMatch(/axes 'train' and 'train.epochs' overlap/);
    expect(inputError(() => expand({ base, grid: { seed: [0] }, zip: [{ seed: [1] }] }))).toMatch(/axis 'seed' appears more than once/);
    expect(inputError(() => expand({ base, grid: { 'data.dataset.x': [0] } }))).toMatch(/axis 'data.dataset.x': 'data.dataset' is "fashion-mnist-mini" in the base experiment, not an object/);
    expect(inputError(() => expand({ base, grid: { seed: [] } }))).toMatch(/grid\.seed: expected at least one value/);
    expect(inputError(() => expand({ base, grid: { 'bad path': [1] } }))).toBe("sweep.yaml: grid: 'bad path' is not an axis (expected a dotted path such as train.epochs)");
    expect(inputError(() => expand({ base, extra: 1 }))).toMatch(/unknown key 'extra'/);
    expect(inputError(() => expand({ grid: {} }))).toMatch(/base: expected an experiment object/);
  });

  it('getPath / setPath walk dotted paths, into lists by index', () => {
    const o: Record<string, unknown> = { a: { b: [1, 2, 3] } };
    setPath(o, 'a.b.1', 20);
    setPath(o, 'x.y.z', true);
    expect(o).toEqual({ a: { b: [1, 20, 3] }, x: { y: { z: true } } });
    expect(getPath(o, 'a.b.1')).toBe(20);
    expect(getPath(o, 'a.q.r')).toBeUndefined();
    expect(() => setPath(o, 'a.b.7', 0)).toThrow(/not an index/);
  });
});

/** An executor that "runs" a job by writing its folder like RunRecord does (or fails chosen ones). */
class FakeExecutor implements Executor {
  readonly kind = 'in-process' as const;
  ran: string[] = [];
  constructor(private readonly opts: { fail?: Set<string>; lie?: Set<string> } = {}) {}
  async run(jobs: RunJob[], store: string, hooks: ExecutorHooks): Promise<void> {
    for (const job of jobs) {
      hooks.onStart(job.runId, 'fake');
      this.ran.push(job.runId);
      const dir = runDirFor(store, job.runId);
      mkdirSync(join(dir, 'artifacts'), { recursive: true });
      writeFileSync(join(dir, 'spec.json'), JSON.stringify(job.spec));
      writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ runId: job.runId, status: 'running' }));
      if (this.opts.fail?.has(job.runId)) {
        await hooks.onDone({ runId: job.runId, status: 'failed', error: 'boom' });
        continue;
      }
      if (!this.opts.lie?.has(job.runId)) {
        writeFileSync(join(dir, 'artifacts', 'weights.bin'), Buffer.alloc(100));
        writeFileSync(join(dir, 'metrics.json'), JSON.stringify({ testAccuracy: 0.5 + job.spec.seed / 100, nested: { x: 1 }, history: [{ epoch: 1 }] }));
      }
      await hooks.onDone({ runId: job.runId, status: 'completed' });
    }
  }
}

describe('runSweep', () => {
  it('records results, skips complete runs on re-run, retries failures, never duplicates', async () => {
    const store = mkdtempSync(join(tmpdir(), 'hemlock-sweep-'));
    const sweep = expand({ name: 's', base, grid: { seed: [0, 1, 2, 3] } });
    const [r0, r1, r2] = sweep.runs.map((r) => r.id);
    // First pass: r1 fails, r2 claims completion without metrics.json (partial output is not a result).
    const first = new FakeExecutor({ fail: new Set([r1!]), lie: new Set([r2!]) });
    expect(await runSweep(sweep, { store, executor: first })).toEqual({ runs: 4, completed: 2, failed: 2, skipped: 0 });
    let db = ResultsDb.open(store);
    const rows = db.listRuns({ sweep: 's' });
    expect(rows.map((r) => r.status)).toEqual(['completed', 'failed', 'failed', 'completed']);
    expect(rows[1]!.error).toBe('boom');
    expect(rows[2]!.error).toMatch(/metrics\.json is missing/);
    expect(rows[0]!.metrics).toEqual({ testAccuracy: 0.5, 'nested.x': 1 });
    expect(rows[0]!.params).toEqual({ seed: 0 });
    expect(db.artifacts(r0!)).toEqual([{ path: join('artifacts', 'weights.bin'), bytes: 100 }]);
    db.close();

    // Second pass: only the two unfinished runs run again.
    const second = new FakeExecutor();
    expect(await runSweep(sweep, { store, executor: second })).toEqual({ runs: 4, completed: 2, failed: 0, skipped: 2 });
    expect(second.ran.sort()).toEqual([r1!, r2!].sort());
    // Third pass: nothing to do.
    const third = new FakeExecutor();
    expect(await runSweep(sweep, { store, executor: third })).toEqual({ runs: 4, completed: 0, failed: 0, skipped: 4 });
    expect(third.ran).toEqual([]);

    db = ResultsDb.open(store);
    expect(db.counts()).toMatchObject({ runs: 4, distinctRuns: 4, sweeps: 1 });
    expect(db.listRuns().every((r) => r.status === 'completed')).toBe(true);
    db.close();
    expect(readdirSync(join(store, 'runs')).sort()).toEqual(sweep.runs.map((r) => r.id).sort());
    expect(existsSync(join(store, 'sweeps', `${sweep.id}.json`))).toBe(true);
  });

  it('indexes runs completed while no coordinator was watching', async () => {
    const store = mkdtempSync(join(tmpdir(), 'hemlock-sweep-'));
    const sweep = expand({ name: 's', base, grid: { seed: [0, 1] } });
    // A worker finished run 0 but the coordinator died before recording it.
    const dir = runDirFor(store, sweep.runs[0]!.id);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'metrics.json'), JSON.stringify({ testAccuracy: 0.9 }));
    const ex = new FakeExecutor();
    expect(await runSweep(sweep, { store, executor: ex })).toEqual({ runs: 2, completed: 1, failed: 0, skipped: 1 });
    const db = ResultsDb.open(store);
    expect(db.getRun(sweep.runs[0]!.id)).toMatchObject({ status: 'completed', metrics: { testAccuracy: 0.9 } });
    db.close();
  });
});
