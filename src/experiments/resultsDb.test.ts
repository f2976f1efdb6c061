import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { meanCI } from '../eval/metrics.js';
import { flattenMetrics, ResultsDb, type RunStatus } from './resultsDb.js';
import { aggregate, applyFilters, parseFilter, toCsv } from './resultsQuery.js';

const spec = { name: 'x', seed: 0 };

describe('ResultsDb', () => {
  it('is in WAL mode and its upserts are idempotent by run id', () => {
    const store = mkdtempSync(join(tmpdir(), 'hemlock-db-'));
    const db = ResultsDb.open(store);
    const raw = new Database(db.path, { readonly: true });
    expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
    raw.close();

    const run = { id: 'abc', name: 'x', spec, params: { seed: 0 }, runDir: 'runs/abc' };
    db.upsertPending(run);
    db.upsertPending(run);
    db.markRunning('abc', 'w1');
    const done = { ...run, metrics: { acc: 0.5, nested: { auc: 0.7 }, curve: [1, 2] }, artifacts: [{ path: 'artifacts/a', bytes: 3 }] };
    db.recordCompleted(done);
    db.recordCompleted(done);
    expect(db.counts()).toEqual({ runs: 1, distinctRuns: 1, metrics: 2, artifacts: 1, sweeps: 0 });
    expect(db.getRun('abc')).toMatchObject({ status: 'completed', metrics: { acc: 0.5, 'nested.auc': 0.7 }, worker: 'w1', params: { seed: 0 } });
    // A late failure report cannot undo a completed run.
    db.recordFailed('abc', 'late');
    expect(db.getRun('abc')!.status).toBe('completed');
    // A folder that lost its metrics goes back to pending, metrics cleared.
    db.upsertPending(run);
    expect(db.getRun('abc')).toMatchObject({ status: 'pending', metrics: {} });
    db.close();
  });

  it('flattens nested numeric metrics and skips arrays', () => {
    expect(flattenMetrics({ a: 1, b: { c: 2, d: [1, 2], e: 'x', f: { g: NaN } }, h: null })).toEqual({ a: 1, 'b.c': 2, 'b.f.g': NaN });
  });
});

describe('results queries', () => {
  const row = (id: string, params: Record<string, unknown>, acc: number, status: 'completed' | 'failed' = 'completed') => ({
    id,
    name: 'x',
    status: status as RunStatus,
    params,
    spec: { train: { epochs: params.epochs } },
    runDir: `runs/${id}`,
    metrics: (status === 'completed' ? { acc } : {}) as Record<string, number>,
    error: null,
    worker: null,
    createdAt: '',
    updatedAt: '',
    startedAt: null,
    endedAt: null,
    sweeps: [],
  });
  const runs = [
    row('a', { seed: 0, epochs: 1 }, 0.5),
    row('b', { seed: 1, epochs: 1 }, 0.7),
    row('c', { seed: 2, epochs: 1 }, 0.6),
    row('d', { seed: 0, epochs: 2 }, 0.8),
    row('e', { seed: 1, epochs: 2 }, 0, 'failed'),
  ];

  it('filters on axes, metrics, spec paths and status', () => {
    expect(applyFilters(runs, [parseFilter('epochs=1')]).map((r) => r.id)).toEqual(['a', 'b', 'c']);
    expect(applyFilters(runs, [parseFilter('acc>=0.6')]).map((r) => r.id)).toEqual(['b', 'c', 'd']);
    expect(applyFilters(runs, [parseFilter('train.epochs!=1'), parseFilter('status=completed')]).map((r) => r.id)).toEqual(['d']);
    expect(() => parseFilter('nonsense')).toThrow(/not a filter/);
  });

  it('aggregates completed runs per group with meanCI', () => {
    const g = aggregate(runs, ['epochs'], ['acc']);
    expect(g.map((x) => [x.group, x.n, x.runs])).toEqual([
      [{ epochs: 1 }, 3, ['a', 'b', 'c']],
      [{ epochs: 2 }, 2, ['d', 'e']],
    ]);
    expect(g[0]!.metrics.acc).toEqual(meanCI([0.5, 0.7, 0.6]));
    // t(0.975, 2 df) = 4.3027: the interval over 3 runs with sample std 0.1.
    expect(g[0]!.metrics.acc!.halfWidth).toBeCloseTo((4.302652729911275 * 0.1) / Math.sqrt(3), 4);
    expect(g[1]!.metrics.acc!.n).toBe(1);
  });

  it('writes RFC 4180 CSV', () => {
    expect(toCsv(['a', 'b'], [['x,y', 1], ['q"r', NaN]])).toBe('a,b\n"x,y",1\n"q""r",\n');
  });
});
