import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateExperiment } from './spec.js';
import { runExperiment } from './runner.js';

const BACKEND = process.env.HEMLOCK_TEST_BACKEND ?? 'wasm';

describe('runExperiment on real data', () => {
  it('ConvNet-S learns fashion-mnist-mini (short run, lower bar than the full 80%)', async () => {
    const exp = validateExperiment(
      {
        name: 'mini-short',
        seed: 1,
        backend: BACKEND,
        data: { dataset: 'fashion-mnist-mini', trainLimit: 3000, testLimit: 500 },
        model: { architecture: 'convnet-s' },
        train: { epochs: 3, optimizer: { kind: 'adam', lr: 0.003 } },
      },
      'test',
    );
    const root = mkdtempSync(join(tmpdir(), 'hemlock-runner-'));
    const r = await runExperiment(exp, { root });
    // Chance is 10%; three short epochs already reach well above it.
    expect(r.metrics.testAccuracy).toBeGreaterThan(0.5);
    expect(r.metrics.history).toHaveLength(3);
    const spec = JSON.parse(readFileSync(join(r.runDir, 'spec.json'), 'utf8'));
    expect(spec.train.optimizer).toEqual({ kind: 'adam', lr: 0.003, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 });
  }, 600_000); // ~70 s on a loaded 2-core machine; far less when quiet
});
