import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { hemlock } from './cli.js';

const backend = process.env.HEMLOCK_TEST_BACKEND ?? 'wasm';

describe('hemlock run (backdoor spec)', () => {
  it('--json prints attack success, clean accuracy and each defense on the last line', () => {
    const work = mkdtempSync(join(tmpdir(), 'hemlock-backdoor-cli-'));
    const path = join(work, 'bd.yaml');
    writeFileSync(
      path,
      stringify({
        name: 'backdoor-cli',
        seed: 0,
        data: { dataset: 'fashion-mnist-mini', classes: [0, 1, 7, 8], trainLimit: 120, testLimit: 40 },
        model: { architecture: 'convnet-s', options: { widths: [4, 8, 8] } },
        train: { epochs: 1, batchSize: 30, augment: { flip: false } },
        backdoor: { attack: { name: 'badnets', rate: 0.1, trigger: { kind: 'patch', size: 4 } }, defenses: [{ name: 'spectral-signatures', epsilon: 0.2 }], gallery: 0 },
      }),
    );
    const r = hemlock(['run', path, '--out', join(work, 'runs'), '--json', '--backend', backend]);
    expect(r.code, r.stderr).toBe(0);
    const j = r.json as { asr: number; poisonedAccuracy: number; cleanAccuracy: number; poisons: number; defenses: { defense: string; auroc: number }[] };
    expect(j.poisons).toBe(12);
    for (const x of [j.asr, j.poisonedAccuracy, j.cleanAccuracy]) expect(x).toBeGreaterThanOrEqual(0);
    expect(j.defenses.map((d) => d.defense)).toEqual(['spectral-signatures']);
    expect(j.defenses[0]!.auroc).toBeGreaterThanOrEqual(0);
  });
});
