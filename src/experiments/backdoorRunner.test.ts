import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tf } from '../engine/tf.js';
import { initBackend } from '../engine/backend.js';
import { validateExperiment } from './spec.js';
import { runExperiment } from './runner.js';
import { rocCurve, type BackdoorMetrics } from './backdoorRunner.js';

const BACKEND = process.env.HEMLOCK_TEST_BACKEND ?? 'wasm';
const base = { data: { dataset: 'fashion-mnist-mini' } };

describe('experiment specs with a backdoor section', () => {
  it('resolves the attack and defense options with defaults, and names bad fields', () => {
    const ok = validateExperiment({ ...base, backdoor: { attack: { name: 'badnets', rate: 0.05 }, defenses: [{ name: 'spectral-signatures', epsilon: 0.2 }, { name: 'activation-clustering' }] } }, 'spec.yaml');
    expect(ok.backdoor).toMatchObject({
      attack: { name: 'badnets', options: { rate: 0.05, targetClass: 0, source: 'all', mode: 'substitute', trigger: { kind: 'patch', size: 3, position: 'bottom-right' } } },
      defenses: [
        { name: 'spectral-signatures', options: { epsilon: 0.2, removalFactor: 1.5 } },
        { name: 'activation-clustering', options: { components: 10, sizeThreshold: 0.35 } },
      ],
      victim: 'from-scratch',
      clean: true,
      gallery: 8,
    });
    const bad = (backdoor: unknown) => () => validateExperiment({ ...base, backdoor }, 'spec.yaml');
    expect(bad({ attack: { name: 'badnets', rate: 2 } })).toThrow(/spec\.yaml: backdoor\.attack\.rate: /);
    expect(bad({ attack: { name: 'badnets', trigger: { kind: 'patch', size: 0 } } })).toThrow(/backdoor\.attack\.trigger\.size/);
    expect(bad({ attack: { name: 'witches-brew' } })).toThrow(/backdoor\.attack\.name: unknown backdoor attack 'witches-brew'/);
    expect(bad({ attack: { name: 'badnets' }, defenses: [{ name: 'nope' }] })).toThrow(/backdoor\.defenses\[0\]\.name: unknown defense 'nope'/);
    expect(bad({ attack: { name: 'badnets' }, defenses: [{ name: 'activation-clustering', sizeThreshold: 0.7 }] })).toThrow(/backdoor\.defenses\[0\]\.sizeThreshold/);
    expect(bad({ attack: { name: 'badnets' }, victim: 'frozen' })).toThrow(/backdoor\.victim/);
    // A backdoor in the T4 (targeted poisoning) section is a spec error, not a crash later.
    expect(() => validateExperiment({ ...base, attack: { name: 'badnets' } }, 'spec.yaml')).toThrow(/attack\.name: 'badnets' is a backdoor attack: put it in the backdoor section/);
  });

  it('rocCurve: thresholds at each distinct score (hand-checked)', () => {
    // scores 0.9(p) 0.8(c) 0.8(p) 0.1(c): points (0,0) (0,½) (½,1) (1,1).
    expect(rocCurve([0.9, 0.8, 0.8, 0.1], [1, 0, 1, 0])).toEqual({ fpr: [0, 0, 0.5, 1], tpr: [0, 0.5, 1, 1] });
    const big = rocCurve(Array.from({ length: 1000 }, (_, i) => i), Array.from({ length: 1000 }, (_, i) => i % 2), 50);
    expect(big.fpr).toHaveLength(50);
    expect([big.fpr[0], big.tpr[0], big.fpr.at(-1), big.tpr.at(-1)]).toEqual([0, 0, 1, 1]);
  });

  it('runs attack → victims → defenses → retraining through runExperiment and records metrics and the gallery', async () => {
    const root = mkdtempSync(join(tmpdir(), 'hemlock-backdoor-'));
    const exp = validateExperiment(
      {
        name: 'backdoor-tiny',
        seed: 1,
        backend: BACKEND,
        data: { dataset: 'fashion-mnist-mini', classes: [0, 1, 7, 8], trainLimit: 160, testLimit: 80 },
        model: { architecture: 'convnet-s', options: { widths: [4, 8, 8] } },
        train: { epochs: 2, batchSize: 32, optimizer: { kind: 'adam', lr: 0.01 }, augment: { flip: false } },
        backdoor: {
          attack: { name: 'badnets', rate: 0.1, targetClass: 2, trigger: { kind: 'patch', size: 4 } },
          defenses: [{ name: 'spectral-signatures', epsilon: 0.2 }, { name: 'activation-clustering' }],
          gallery: 3,
        },
      },
      'test',
    );
    await initBackend(BACKEND);
    const before = tf.memory().numTensors;
    const r = await runExperiment(exp, { root });
    expect(tf.memory().numTensors).toBe(before);
    const m = r.metrics as unknown as BackdoorMetrics;
    expect(m).toMatchObject({ kind: 'backdoor', attack: 'badnets', targetClass: 2, poisons: 16, trainCount: 160, trigger: 'patch 4×4 checkerboard at bottom-right' });
    for (const v of [m.cleanAccuracy!, m.poisonedAccuracy, m.asr, m.asrBaseline!]) expect(v).toBeGreaterThanOrEqual(0);
    expect(m.testAccuracy).toBe(m.poisonedAccuracy);
    expect(Object.keys(m.defenses)).toEqual(['spectral-signatures', 'activation-clustering']);
    const ss = m.defenses['spectral-signatures']!;
    expect(ss.auroc).toBeGreaterThanOrEqual(0);
    expect(ss.auroc).toBeLessThanOrEqual(1);
    expect(ss.removedPoisons).toBeLessThanOrEqual(16);
    expect(ss.tpr).toBeCloseTo(ss.removedPoisons / 16, 12);
    expect(ss.fpr).toBeCloseTo((ss.removed - ss.removedPoisons) / 144, 12);
    expect(ss.roc.fpr.length).toBe(ss.roc.tpr.length);
    expect(Number.isFinite(ss.retrainedAsr) && Number.isFinite(ss.retrainedAccuracy)).toBe(true);
    const saved = JSON.parse(readFileSync(join(r.runDir, 'metrics.json'), 'utf8'));
    expect(saved.defenses['activation-clustering'].defense).toBe('activation-clustering');
    const gallery = JSON.parse(readFileSync(join(r.runDir, 'artifacts', 'gallery.json'), 'utf8'));
    expect(gallery).toHaveLength(1);
    expect(gallery[0].items).toHaveLength(3);
    expect(gallery[0].items[0].poisoned).toMatch(/^data:image\/png;base64,/);
    expect(gallery[0].items[0].caption).toMatch(/→ labelled /);
    expect(existsSync(join(r.runDir, 'checkpoint-poisoned'))).toBe(true);
  });
});
