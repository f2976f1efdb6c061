import { describe, expect, it } from 'vitest';
import { HemlockInputError } from '../engine/errors.js';
import { Rng } from '../engine/rng.js';
import { stratifiedSplit, stratifiedSubset } from './splits.js';

function catchErr(fn: () => unknown, ...parts: string[]): HemlockInputError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(HemlockInputError);
    for (const s of parts) expect((e as Error).message).toContain(s);
    return e as HemlockInputError;
  }
  throw new Error('expected a HemlockInputError');
}

/** 1000 labels: class c has 100·(c+1) samples for c < 4 (100+200+300+400), shuffled. */
function labels(): Int32Array {
  const l: number[] = [];
  for (let c = 0; c < 4; c++) for (let i = 0; i < 100 * (c + 1); i++) l.push(c);
  return new Rng('labels').shuffle(Int32Array.from(l)) as Int32Array;
}

function hist(idx: Int32Array, lab: Int32Array): number[] {
  const h = [0, 0, 0, 0];
  for (const i of idx) h[lab[i]!]!++;
  return h;
}

describe('stratifiedSplit', () => {
  it('is deterministic for a seed and differs across seeds', () => {
    const lab = labels();
    const a = stratifiedSplit(lab, { fractions: [0.8, 0.2] }, new Rng(1));
    const b = stratifiedSplit(lab, { fractions: [0.8, 0.2] }, new Rng(1));
    const c = stratifiedSplit(lab, { fractions: [0.8, 0.2] }, new Rng(2));
    expect(a.map((x) => Array.from(x))).toEqual(b.map((x) => Array.from(x)));
    expect(Array.from(a[0]!)).not.toEqual(Array.from(c[0]!));
  });

  it('keeps class proportions and exact totals; parts are disjoint and sorted', () => {
    const lab = labels();
    const [tr, va, te] = stratifiedSplit(lab, { fractions: [0.7, 0.1, 0.2] }, new Rng('p'));
    expect([tr!.length, va!.length, te!.length]).toEqual([700, 100, 200]);
    expect(hist(tr!, lab)).toEqual([70, 140, 210, 280]);
    expect(hist(va!, lab)).toEqual([10, 20, 30, 40]);
    expect(hist(te!, lab)).toEqual([20, 40, 60, 80]);
    const all = new Set([...tr!, ...va!, ...te!]);
    expect(all.size).toBe(1000);
    for (const p of [tr!, va!, te!]) for (let i = 1; i < p.length; i++) expect(p[i]!).toBeGreaterThan(p[i - 1]!);
  });

  it('rounds awkward fractions to exact totals, each class within 1 of proportional', () => {
    const lab = Int32Array.from([0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2]); // 3, 4, 6
    const parts = stratifiedSplit(lab, { fractions: [1 / 3, 1 / 3, 1 / 3] }, new Rng('r'));
    expect(parts.map((p) => p.length).reduce((a, b) => a + b)).toBe(13);
    for (const p of parts) expect(Math.abs(p.length - 13 / 3)).toBeLessThan(1);
    const counts = [3, 4, 6];
    for (const p of parts) {
      const h = [0, 0, 0];
      for (const i of p) h[lab[i]!]!++;
      h.forEach((v, c) => expect(Math.abs(v - counts[c]! / 3)).toBeLessThan(1));
    }
  });

  it('accepts counts and leaves the rest out', () => {
    const lab = labels();
    const [a, b] = stratifiedSplit(lab, { counts: [100, 50] }, new Rng('c'));
    expect(a!.length).toBe(100);
    expect(b!.length).toBe(50);
    expect(hist(a!, lab)).toEqual([10, 20, 30, 40]);
    expect(hist(b!, lab)).toEqual([5, 10, 15, 20]);
  });

  it('rejects bad specs', () => {
    const lab = labels();
    catchErr(() => stratifiedSplit(lab, { fractions: [0.8, 0.3] }, new Rng(0)), 'stratifiedSplit', 'more than 1');
    catchErr(() => stratifiedSplit(lab, { fractions: [-0.1] }, new Rng(0)), 'fraction 0');
    catchErr(() => stratifiedSplit(lab, { counts: [999, 2] }, new Rng(0)), 'counts sum to 1001 but there are only 1000');
    catchErr(() => stratifiedSplit(lab, { counts: [1.5] }, new Rng(0)), 'count 0 must be a non-negative integer');
    catchErr(() => stratifiedSplit([0, -1], { counts: [1] }, new Rng(0)), 'label -1 at index 1');
  });
});

describe('stratifiedSubset', () => {
  it('draws the same number from every class, deterministically', () => {
    const lab = labels();
    const a = stratifiedSubset(lab, 50, new Rng('s'));
    expect(a.length).toBe(200);
    expect(hist(a, lab)).toEqual([50, 50, 50, 50]);
    expect(Array.from(stratifiedSubset(lab, 50, new Rng('s')))).toEqual(Array.from(a));
    expect(hist(stratifiedSubset(lab, [1, 2, 3, 4], new Rng('s')), lab)).toEqual([1, 2, 3, 4]);
  });

  it('errors when a class is too small', () => {
    catchErr(() => stratifiedSubset(labels(), 150, new Rng(0)), 'stratifiedSubset', 'class 0 has 100 samples, cannot draw 150');
    catchErr(() => stratifiedSubset(labels(), [1, 2], new Rng(0)), 'perClass has 2 counts but labels have 4 classes');
  });
});
