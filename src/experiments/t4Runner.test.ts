import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tinyBarsNpyDir } from '../testing/fixtures.js';
import { validateExperiment } from './spec.js';
import { runExperiment } from './runner.js';
import type { T4Metrics } from './t4Runner.js';

const BACKEND = process.env.HEMLOCK_TEST_BACKEND ?? 'wasm';

const tinyDir = () => tinyBarsNpyDir('hemlock-t4-spec-data-');

describe('experiment specs with an attack section (T4)', () => {
  it('validates the attack options against the attack schema, with paths in errors, and fills defaults', () => {
    const base = { data: { dataset: 'x' } };
    const ok = validateExperiment({ ...base, attack: { name: 'witches-brew', steps: 5 } }, 'spec.yaml');
    expect(ok.attack).toMatchObject({ name: 'witches-brew', evaluation: { setups: 10, retrainings: 4, baseline: 'random-noise' } });
    expect(ok.attack!.options).toMatchObject({ steps: 5, restarts: 8, budget: 0.01, threatModel: 'single-class', lr: 0.1 });
    expect((ok.attack!.options as { epsilon: number }).epsilon).toBeCloseTo(16 / 255, 12);
    expect(() => validateExperiment({ ...base, attack: { name: 'witches-brew', steps: -1 } }, 'spec.yaml')).toThrow(/spec\.yaml: attack\.steps: /);
    expect(() => validateExperiment({ ...base, attack: { name: 'witches-brew', threatModel: 'all' } }, 'spec.yaml')).toThrow(/attack\.threatModel/);
    expect(() => validateExperiment({ ...base, attack: { name: 'nope' } }, 'spec.yaml')).toThrow(/attack\.name: unknown attack 'nope'/);
    expect(() => validateExperiment({ ...base, attack: { name: 'witches-brew', evaluation: { setups: 0 } } }, 'spec.yaml')).toThrow(/attack\.evaluation\.setups/);
    // No attack section: plain training, as before.
    expect(validateExperiment(base, 'spec.yaml').attack).toBeUndefined();
  });

  it('runs setups × retrainings for the attack and the paired random-noise baseline, and records every trial', async () => {
    const data = await tinyDir();
    const root = mkdtempSync(join(tmpdir(), 'hemlock-t4-spec-'));
    const input = {
        name: 't4-tiny',
        seed: 2,
        backend: BACKEND,
        data: { dataset: data },
        model: { architecture: 'convnet-s', options: { widths: [4, 4, 8] } },
        train: { epochs: 1, batchSize: 20, optimizer: { kind: 'adam', lr: 0.01 } },
        attack: { name: 'witches-brew', budget: 0.1, steps: 3, restarts: 1, cacheDir: join(root, 'cache'), evaluation: { setups: 2, retrainings: 1, baselineRetrainings: 1 } },
    };
    const exp = validateExperiment(input, 'test');
    const r = await runExperiment(exp, { root, cacheDir: join(root, 'cache') });
    const m = r.metrics as unknown as T4Metrics;
    expect(m.kind).toBe('t4');
    expect(m.attackSummary.trials).toBe(2);
    expect(m.baselineSummary!.trials).toBe(2);
    expect(m.setups).toHaveLength(2);
    for (const s of m.setups) {
      expect(s.poisonIndices).toHaveLength(6);
      expect(s.maxLinf).toBeLessThanOrEqual(16 / 255 + 1e-6);
      expect(s.attackTrials[0]!.seed).toBe(s.baselineTrials[0]!.seed); // paired victims
      expect(existsSync(join(r.runDir, 'artifacts', `setup-0${s.setup}`, 'poisons.npy'))).toBe(true);
    }
    const saved = JSON.parse(readFileSync(join(r.runDir, 'metrics.json'), 'utf8'));
    expect(saved.attackSummary.ci).toHaveLength(2);
    expect(saved.setups[0].details.finalLoss).toBeTypeOf('number');

    // Stage cache: another run with the same data, seed, attack and brewing
    // recipe but more retrainings reuses the brewed poisons instead of brewing.
    const lines: string[] = [];
    const more = validateExperiment({ ...input, name: 't4-tiny-more', attack: { ...input.attack, evaluation: { setups: 2, retrainings: 2, baseline: 'none' } } }, 'test');
    const r2 = await runExperiment(more, { root, cacheDir: join(root, 'cache'), onLog: (l) => lines.push(l) });
    const m2 = r2.metrics as unknown as T4Metrics;
    expect(lines.filter((l) => l.includes('poisons from the stage cache'))).toHaveLength(2);
    expect(m2.setups.map((x) => x.poisonIndices)).toEqual(m.setups.map((x) => x.poisonIndices));
    expect(m2.attackSummary.trials).toBe(4);
  });
});
