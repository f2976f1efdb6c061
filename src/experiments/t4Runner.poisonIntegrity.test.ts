import { describe, expect, it, vi } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readNpy } from '../data/npy.js';
import { tinyBarsNpyDir } from '../testing/fixtures.js';
import type { ImageArrays } from '../train/batches.js';
import type { SupervisedConfig } from '../train/trainer.js';
import { validateExperiment } from './spec.js';
import { runExperiment } from './runner.js';
import { loadExperimentData } from './data.js';
import type { T4Metrics } from './t4Runner.js';

/**
 * Do the victims of a T4 run really train on the poisons? Every call of the
 * trainer is recorded (the real trainer still runs), and the data each victim
 * received is compared pixel by pixel with the clean training set and with the
 * setup's poisons.npy: identical outside the poison indices, equal to the
 * saved poisons at them (attack victims), within ±ε of the clean images
 * (baseline victims). Checked both when the poisons are freshly brewed and when
 * they are restored from the stage cache.
 */
const calls: { data: ImageArrays; cfg: SupervisedConfig }[] = [];
vi.mock('../train/trainer.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../train/trainer.js')>();
  return {
    ...real,
    trainSupervised: (model: Parameters<typeof real.trainSupervised>[0], data: ImageArrays, cfg: SupervisedConfig, opts?: Parameters<typeof real.trainSupervised>[3]) => {
      calls.push({ data: { ...data, images: data.images.slice(), labels: data.labels.slice() }, cfg });
      return real.trainSupervised(model, data, cfg, opts);
    },
  };
});

const BACKEND = process.env.HEMLOCK_TEST_BACKEND ?? 'wasm';
const EPS = 16 / 255;

const tinyDir = () => tinyBarsNpyDir('hemlock-t4-integrity-data-');

describe('T4 runner: the victims train on the poisons', () => {
  it('feeds the attack victims exactly the saved poisons at the poison indices, and nothing else changed', async () => {
    const data = await tinyDir();
    const root = mkdtempSync(join(tmpdir(), 'hemlock-t4-integrity-'));
    const cacheDir = join(root, 'cache');
    const input = {
      name: 't4-integrity',
      seed: 3,
      backend: BACKEND,
      data: { dataset: data },
      model: { architecture: 'convnet-s', options: { widths: [4, 4, 8] } },
      train: { epochs: 1, batchSize: 20, optimizer: { kind: 'adam', lr: 0.01 } },
      attack: { name: 'witches-brew', budget: 0.1, steps: 4, restarts: 1, evaluation: { setups: 2, retrainings: 2, baselineRetrainings: 1 } },
    };
    const exp = validateExperiment(input, 'test');
    const { train: clean } = await loadExperimentData(exp.data, exp.seed);
    const per = clean.imageSize;

    const check = async (runDir: string, m: T4Metrics, victimCalls: typeof calls) => {
      // Victims are trained setup by setup: the attack's retrainings, then the baseline's.
      expect(victimCalls).toHaveLength(m.setups.length * 3);
      for (const [k, s] of m.setups.entries()) {
        const saved = (await readNpy(join(runDir, 'artifacts', `setup-0${s.setup}`, 'poisons.npy'))).data as Float32Array;
        const isPoison = new Map(s.poisonIndices.map((i, j) => [i, j]));
        let changedPixels = 0;
        for (const [v, call] of victimCalls.slice(k * 3, k * 3 + 3).entries()) {
          const baseline = v === 2;
          expect(call.data.labels).toEqual(clean.labels); // clean-label: labels untouched
          for (let i = 0; i < clean.count; i++) {
            const j = isPoison.get(i);
            for (let q = 0; q < per; q++) {
              const got = call.data.images[i * per + q]!;
              const c = clean.images[i * per + q]!;
              if (j === undefined) expect(got).toBe(c);
              else {
                expect(Math.abs(got - c)).toBeLessThanOrEqual(EPS + 1e-6);
                expect(got).toBeGreaterThanOrEqual(0);
                expect(got).toBeLessThanOrEqual(1);
                if (!baseline) expect(got).toBe(saved[j * per + q]);
                if (got !== c) changedPixels++;
              }
            }
          }
        }
        // The poisons really are perturbed (not a clean copy).
        expect(changedPixels).toBeGreaterThan(s.poisonIndices.length * per);
      }
    };

    calls.length = 0;
    const r1 = await runExperiment(exp, { root, cacheDir });
    const m1 = r1.metrics as unknown as T4Metrics;
    // The brewing model trains on the clean set; the victims come after it.
    const brewing = calls.filter((c) => c.cfg.seed === 0 && c.data.images.every((x, i) => x === clean.images[i]));
    expect(brewing.length).toBeGreaterThanOrEqual(1);
    await check(r1.runDir, m1, calls.slice(calls.length - m1.setups.length * 3));

    // Same spec again under another name: the poisons come from the stage cache
    // (loaded from poisons.npy, re-applied to the clean set).
    calls.length = 0;
    const lines: string[] = [];
    const r2 = await runExperiment(validateExperiment({ ...input, name: 't4-integrity-2' }, 'test'), { root, cacheDir, onLog: (l) => lines.push(l) });
    expect(lines.filter((l) => l.includes('poisons from the stage cache'))).toHaveLength(2);
    await check(r2.runDir, r2.metrics as unknown as T4Metrics, calls);
  }, 60_000);
});
