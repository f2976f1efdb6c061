import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tinyBarsNpyDir } from '../src/testing/fixtures.js';
import { hemlock } from './cli.js';

/**
 * The issue-6 CLI contract, end to end on a tiny dataset directory:
 *   hemlock poison witches-brew --dataset DIR --model convnet-s --epsilon 16 --budget B --seed S --out OUT --json
 *   hemlock evaluate OUT --retrain R --seed S --json
 */
const backend = process.env.HEMLOCK_TEST_BACKEND ?? 'wasm';

const tinyDatasetDir = () => tinyBarsNpyDir('hemlock-t4-data-');

describe('hemlock poison / evaluate (T4 contract)', () => {
  it('poison witches-brew writes the contract files; evaluate retrains and prints the JSON summary', async () => {
    const data = await tinyDatasetDir();
    const work = mkdtempSync(join(tmpdir(), 'hemlock-t4-cli-'));
    const config = join(work, 'wb.json');
    writeFileSync(config, JSON.stringify({ model: { options: { widths: [4, 4, 8] } }, brewing: { epochs: 1, batchSize: 20 } }));
    const out = join(work, 'poisoned');
    const r = hemlock([
      'poison', 'witches-brew', '--dataset', data, '--model', 'convnet-s', '--epsilon', '16', '--budget', '0.1', '--seed', '3',
      '--out', out, '--json', '--steps', '4', '--restarts', '2', '--config', config, '--cache-dir', join(work, 'cache'), '--backend', backend,
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json).toMatchObject({ attack: 'witches-brew', poisons: 6, budget: 0.1 });
    expect(r.json.epsilon).toBeCloseTo(16 / 255, 12);
    expect(r.json.maxLinf).toBeLessThanOrEqual(16 / 255 + 1e-6);
    for (const f of ['x_train.npy', 'y_train.npy', 'x_test.npy', 'y_test.npy', 'target.npy', 'manifest.json']) expect(existsSync(join(out, f)), f).toBe(true);
    const m = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'));
    expect(m).toMatchObject({ attack: 'witches-brew', budget: 0.1, seed: 3, targetIndex: r.json.targetIndex, adversarialClass: r.json.adversarialClass });
    expect(m.epsilon).toBeCloseTo(16 / 255, 12);
    expect(m.poisonIndices).toHaveLength(6);
    expect(m.linfNorms).toHaveLength(6);
    expect(Object.keys(m.files).sort()).toEqual(['target.npy', 'x_poisons_clean.npy', 'x_test.npy', 'x_train.npy', 'y_test.npy', 'y_train.npy']);
    // y_train.npy is int64 ('<i8'), x_train.npy float32 ('<f4').
    expect(readFileSync(join(out, 'y_train.npy')).subarray(0, 80).toString('latin1')).toContain("'descr': '<i8'");
    expect(readFileSync(join(out, 'x_train.npy')).subarray(0, 80).toString('latin1')).toContain("'descr': '<f4'");
    // The brewing model was cached: a second brew with another seed reuses it.
    const again = hemlock([
      'poison', 'witches-brew', '--dataset', data, '--epsilon', '8', '--budget', '0.1', '--seed', '4', '--out', join(work, 'p2'),
      '--steps', '2', '--restarts', '1', '--config', config, '--cache-dir', join(work, 'cache'), '--backend', backend,
    ]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/loaded from/);

    // The random-noise baseline with the same seed picks the same setup (target, class, poison indices).
    const n = hemlock(['poison', 'random-noise', '--dataset', data, '--epsilon', '16', '--budget', '0.1', '--seed', '3', '--out', join(work, 'noise'), '--json', '--backend', backend]);
    expect(n.code, n.stderr).toBe(0);
    expect(n.json.maxLinf).toBeLessThanOrEqual(16 / 255 + 1e-6);
    const mn = JSON.parse(readFileSync(join(work, 'noise', 'manifest.json'), 'utf8'));
    expect(mn.attack).toBe('random-noise');
    expect([mn.targetIndex, mn.adversarialClass, mn.poisonIndices]).toEqual([m.targetIndex, m.adversarialClass, m.poisonIndices]);

    const e = hemlock(['evaluate', out, '--retrain', '2', '--seed', '1', '--epochs', '1', '--json', '--backend', backend]);
    expect(e.code, e.stderr).toBe(0);
    expect(Object.keys(e.json).slice(0, 4)).toEqual(['targetSuccess', 'ci', 'trials', 'validationAccuracy']);
    expect(e.json.trials).toBe(2);
    expect(e.json.ci).toHaveLength(2);
    expect(e.json.ci[0]).toBeLessThanOrEqual(e.json.targetSuccess);
    expect(e.json.ci[1]).toBeGreaterThanOrEqual(e.json.targetSuccess);
    expect(e.json.validationAccuracy).toBeGreaterThanOrEqual(0);
    expect(e.json.validationAccuracy).toBeLessThanOrEqual(1);
  });

  it('bad input exits 2 with one line naming the flag or file', async () => {
    const data = await tinyDatasetDir();
    const work = mkdtempSync(join(tmpdir(), 'hemlock-t4-bad-'));
    const cases: [string[], RegExp][] = [
      [['poison', 'witches-brew', '--dataset', data, '--epsilon', '0', '--out', join(work, 'a')], /--epsilon/],
      [['poison', 'witches-brew', '--dataset', data, '--budget', '2', '--out', join(work, 'b')], /--budget/],
      [['poison', 'witches-brew', '--dataset', data, '--threat-model', 'nope', '--out', join(work, 'c')], /threatModel/],
      [['poison', 'nope', '--dataset', data, '--out', join(work, 'd')], /unknown attack 'nope'/],
      [['poison', 'random-noise', '--dataset', data, '--steps', '3', '--out', join(work, 'e')], /--steps: not an option/],
      [['evaluate', join(work, 'missing'), '--retrain', '1'], /manifest\.json: not found/],
      [['evaluate', data, '--retrain', '0'], /--retrain/],
    ];
    for (const [args, pattern] of cases) {
      const r = hemlock([...args, '--backend', backend]);
      expect(r.code, `${args.join(' ')}\n${r.stderr}`).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(pattern);
    }
  });
});
