import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ResultsDb } from '../src/experiments/resultsDb.js';
import { hemlock } from './cli.js';
import { completeRuns, pidAlive, runFolders, startHemlock, waitUntil } from './helpers/procs.js';

/**
 * Resumability of a local-pool sweep: kill -9 the coordinator mid-sweep, run
 * the same command again — completed runs are skipped (and counted), partial
 * run folders are resumed, the results index holds each run exactly once.
 */
describe('local pool sweep', () => {
  it('survives kill -9 of the coordinator: the rerun skips what was done and duplicates nothing', { timeout: 400_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hemlock-pool-'));
    const store = join(dir, 'store');
    const spec = join(dir, 'sweep.json');
    writeFileSync(
      spec,
      JSON.stringify({
        name: 'pool',
        base: {
          data: { dataset: 'fashion-mnist-mini', trainLimit: 200, testLimit: 100 },
          model: { architecture: 'convnet-s', options: { widths: [8, 16, 32] } },
          train: { epochs: 3, batchSize: 50 },
          backend: 'wasm',
        },
        grid: { seed: [0, 1, 2, 3], 'train.optimizer.kind': ['sgd', 'adam'] },
      }),
    );

    const first = startHemlock(['sweep', spec, '--workers', '2', '--store', store, '--json']);
    await waitUntil(() => completeRuns(store).length >= 2, 120_000, '2 completed runs');
    const poolPids = [...first.stderr.matchAll(/pool-\d \(pid (\d+)\)/g)].map((m) => Number(m[1]));
    expect(new Set(poolPids).size).toBe(2);
    first.child.kill('SIGKILL');
    await first.exited;
    // The pool's worker processes notice their parent is gone and exit.
    await waitUntil(() => poolPids.every((p) => !pidAlive(p)), 20_000, 'the pool workers to exit');
    const doneBefore = completeRuns(store).length;
    expect(doneBefore).toBeGreaterThanOrEqual(2);
    expect(doneBefore).toBeLessThan(8);
    // Run folders a killed worker had opened (a manifest, no metrics): partial output.
    const partial = runFolders(store).filter((id) => !completeRuns(store).includes(id) && existsSync(join(store, 'runs', id, 'manifest.json')));

    const second = hemlock(['sweep', spec, '--workers', '2', '--store', store, '--json']);
    expect(second.code, second.stderr).toBe(0);
    expect(second.json).toEqual({ runs: 8, completed: 8 - doneBefore, failed: 0, skipped: doneBefore });

    // One folder per run, all complete; partial folders were resumed in place.
    expect(runFolders(store).sort()).toEqual(completeRuns(store).sort());
    expect(completeRuns(store)).toHaveLength(8);
    for (const id of partial) {
      const manifest = JSON.parse(readFileSync(join(store, 'runs', id, 'manifest.json'), 'utf8'));
      expect(manifest.status).toBe('completed');
      expect(manifest.resumedAt?.length).toBeGreaterThanOrEqual(1);
    }

    const db = ResultsDb.open(store);
    try {
      const c = db.counts();
      expect(c.runs).toBe(8);
      expect(c.distinctRuns).toBe(8);
      expect(c.sweeps).toBe(1);
      expect(db.listRuns().every((r) => r.status === 'completed')).toBe(true);
    } finally {
      db.close();
    }

    // The results command sees the same 8 runs; aggregation over seeds gives mean ± CI per optimizer.
    const results = hemlock(['results', '--store', store, '--json']);
    expect(results.code, results.stderr).toBe(0);
    expect(results.json).toHaveLength(8);
    expect(new Set(results.json.map((r: { id: string }) => r.id)).size).toBe(8);
    for (const r of results.json) {
      expect(r.status).toBe('completed');
      expect(typeof r.metrics.testAccuracy).toBe('number');
    }
    const grouped = hemlock(['results', '--store', store, '--aggregate', '--json']);
    expect(grouped.json).toHaveLength(2);
    for (const g of grouped.json) {
      expect(g.n).toBe(4);
      const accs = results.json.filter((r: any) => r.params['train.optimizer.kind'] === g.group['train.optimizer.kind']).map((r: any) => r.metrics.testAccuracy);
      expect(g.metrics.testAccuracy.mean).toBeCloseTo(accs.reduce((a: number, b: number) => a + b, 0) / 4, 12);
      expect(g.metrics.testAccuracy.n).toBe(4);
    }

    // A third run does nothing.
    const third = hemlock(['sweep', spec, '--store', store, '--json']);
    expect(third.json).toEqual({ runs: 8, completed: 0, failed: 0, skipped: 8 });
  });
});
