import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateExperiment } from './spec.js';
import { runExperiment } from './runner.js';
import { isT1Metrics, reevaluateT1Export, t1ContractJson } from './t1Runner.js';

const BACKEND = process.env.HEMLOCK_TEST_BACKEND ?? 'wasm';

describe('T1 runner', () => {
  it('runs every attack on a tiny transfer task and records rows, summary and exported poisons', async () => {
    const exp = validateExperiment(
      {
        name: 't1-tiny',
        seed: 0,
        backend: BACKEND,
        data: { dataset: 'fashion-mnist-mini', classes: [0, 1, 2, 3, 4], trainLimit: 100, testLimit: 50 },
        model: { architecture: 'convnet-s', options: { widths: [4, 8, 16] } },
        t1: {
          mode: 'transfer',
          downstream: { dataset: 'fashion-mnist-mini', classes: [5, 6, 7], trainLimit: 150, testLimit: 90 },
          encoder: { source: 'random' },
          probe: { maxIter: 100 },
          epsilons: [0.1],
          seeds: [0],
          attacks: [
            { name: 'label-flip-random' },
            { name: 'gc-feature', gc: { steps: 50 } },
            { name: 'ft', label: 'ft-decoder', gc: { steps: 50 }, inversion: { method: 'decoder', decoder: { epochs: 2, hidden: 32 } } },
            { name: 'gc-input', gc: { steps: 20 }, input: { steps: 3, linf: 0.1 } },
          ],
        },
      },
      'test',
    );
    const root = mkdtempSync(join(tmpdir(), 'hemlock-t1-'));
    const cacheDir = join(root, 'cache');
    const r = await runExperiment(exp, { root, cacheDir });
    const m = r.metrics;
    expect(isT1Metrics(m)).toBe(true);
    if (!isT1Metrics(m)) return;
    expect(m.runs).toHaveLength(4);
    for (const row of m.runs) {
      expect(row.mode).toBe('transfer');
      expect(row.poisonCount).toBe(15);
      expect(row.accuracyDrop).toBeGreaterThanOrEqual(0);
      expect(row.accuracyDrop).toBeLessThanOrEqual(1);
      expect(existsSync(join(row.exportDir!, 't1-manifest.json'))).toBe(true);
    }
    expect(m.runs.find((x) => x.attack === 'ft-decoder')!.featureSpaceAccuracy).toBeTypeOf('number');
    const gcIn = JSON.parse(readFileSync(join(m.runs.find((x) => x.attack === 'gc-input')!.exportDir!, 't1-manifest.json'), 'utf8'));
    expect(Math.max(...gcIn.linfNorms)).toBeLessThanOrEqual(0.1 + 1e-6);
    // The attacker's simulated victim is the victim of the spec (λ and L-BFGS budget).
    expect(gcIn.config.victim).toEqual({ l2: exp.t1!.probe.l2, maxIter: 100 });
    // Rows keep the radius candidates and the target's bias excess (why a target was or was not reachable).
    const gcRow = m.runs.find((x) => x.attack === 'gc-feature')!;
    expect(gcRow.facts.targetBiasExcess).toBeTypeOf('number');
    const json = t1ContractJson(m) as { runs: Record<string, unknown>[] };
    expect(json.runs).toHaveLength(4);
    expect(Object.keys(json.runs[0]!)).toEqual(expect.arrayContaining(['cleanAccuracy', 'poisonedAccuracy', 'accuracyDrop', 'attack', 'epsilon', 'seed', 'mode']));
    expect(m.summary).toHaveLength(4);

    // `hemlock evaluate` on an export rebuilds the run's victim and reproduces its row exactly.
    for (const name of ['label-flip-random', 'gc-feature', 'gc-input']) {
      const row = m.runs.find((x) => x.attack === name)!;
      const again = await reevaluateT1Export(row.exportDir!, { cacheDir });
      expect(again).toMatchObject({ attack: name, epsilon: 0.1, seed: 0, mode: 'transfer', poisonCount: 15 });
      expect(again.cleanAccuracy).toBe(row.cleanAccuracy);
      expect(again.poisonedAccuracy).toBe(row.poisonedAccuracy);
    }

    // Stage cache: a second run with the same encoder and data reads the clean
    // features from the cache and reproduces the clean probe exactly.
    const lines: string[] = [];
    const again = validateExperiment({ ...exp, name: 't1-tiny-again', t1: { ...exp.t1!, attacks: [{ name: 'label-flip-random' }] } }, 'test');
    const r2 = await runExperiment(again, { root, cacheDir, onLog: (l: string) => lines.push(l) });
    expect(lines.some((l) => l.includes('feature cache hit'))).toBe(true);
    const m2 = r2.metrics;
    if (!isT1Metrics(m2)) throw new Error('expected T1 metrics');
    expect(m2.runs[0]!.cleanAccuracy).toBe(m.runs[0]!.cleanAccuracy);
    expect(m2.runs[0]!.poisonedAccuracy).toBe(m.runs[0]!.poisonedAccuracy);
  });
});
