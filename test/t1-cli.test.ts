import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { hemlock } from './cli.js';

const backend = process.env.HEMLOCK_TEST_BACKEND ?? 'wasm';

/** A T1 spec small enough for the CLI tests: a random narrow encoder, 3 + 3 classes. */
function spec(attacks: unknown[], extra: Record<string, unknown> = {}) {
  return {
    name: 't1-cli',
    seed: 0,
    data: { dataset: 'fashion-mnist-mini', classes: [0, 1, 2], trainLimit: 60, testLimit: 30 },
    model: { architecture: 'convnet-s', options: { widths: [4, 8, 16] } },
    t1: { mode: 'transfer', downstream: { dataset: 'fashion-mnist-mini', classes: [5, 7, 9], trainLimit: 90, testLimit: 60 }, encoder: { source: 'random' }, attacks, ...extra },
  };
}

describe('hemlock run (T1 spec) --json contract', () => {
  const work = mkdtempSync(join(tmpdir(), 'hemlock-t1-cli-'));

  it('one run: the last stdout line is the run object', () => {
    const path = join(work, 'one.yaml');
    writeFileSync(path, stringify(spec([{ name: 'label-flip-worst' }], { epsilons: [0.1] })));
    const r = hemlock(['run', path, '--out', join(work, 'runs'), '--json', '--backend', backend]);
    expect(r.code, r.stderr).toBe(0);
    const j = r.json;
    expect(j).toMatchObject({ attack: 'label-flip-worst', epsilon: 0.1, seed: 0, mode: 'transfer' });
    for (const k of ['cleanAccuracy', 'poisonedAccuracy', 'accuracyDrop']) {
      expect(j[k]).toBeGreaterThanOrEqual(0);
      expect(j[k]).toBeLessThanOrEqual(1);
    }
    expect(j.accuracyDrop).toBeCloseTo(Math.max(0, j.cleanAccuracy - j.poisonedAccuracy), 10);
  });

  it('several seeds and attacks: {"runs": [...]}', () => {
    const path = join(work, 'many.yaml');
    writeFileSync(path, stringify(spec([{ name: 'label-flip-random' }, { name: 'gc-feature', gc: { steps: 20 } }], { epsilons: [0.05], seeds: [1, 2], export: 'none' })));
    const r = hemlock(['run', path, '--out', join(work, 'runs'), '--json', '--backend', backend]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json.runs).toHaveLength(4);
    expect(r.json.runs.map((x: { attack: string; seed: number }) => `${x.attack}/${x.seed}`).sort()).toEqual(['gc-feature/1', 'gc-feature/2', 'label-flip-random/1', 'label-flip-random/2']);
  });

  it('bad input: an unknown or non-T1 attack, a budget inside an attack, a same-dataset spec with other classes → exit 2, one line naming the field', () => {
    const cases: [unknown, RegExp][] = [
      [spec([{ name: 'nope' }]), /t1\.attacks\[0\]\.name: unknown attack 'nope'/],
      [spec([{ name: 'witches-brew' }]), /t1\.attacks\[0\]\.name: 'witches-brew' is a T4 attack/],
      [spec([{ name: 'gc-feature', epsilon: 0.1 }]), /t1\.attacks\[0\]\.epsilon: set the budgets in t1\.epsilons/],
      [spec([{ name: 'gc-feature', gc: { steps: -1 } }]), /t1\.attacks\[0\]\.gc\.steps/],
      [{ ...spec([{ name: 'label-flip-random' }]), t1: { ...spec([]).t1, mode: 'same-dataset', attacks: [{ name: 'label-flip-random' }] } }, /t1\.mode: same-dataset/],
    ];
    cases.forEach(([s, re], i) => {
      const path = join(work, `bad${i}.yaml`);
      writeFileSync(path, stringify(s));
      const r = hemlock(['run', path, '--out', join(work, 'runs'), '--json', '--backend', backend]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(re);
    });
  });
});
