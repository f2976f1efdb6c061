import { inputError } from '../engine/errors.js';
import type { Rng } from '../engine/rng.js';

/**
 * How to split: `fractions` of the whole (each ≥ 0, sum ≤ 1; whatever is
 * left over is in no part) or absolute `counts` (sum ≤ N).
 */
export type SplitSpec = { fractions: number[] } | { counts: number[] };

const WHERE = 'stratifiedSplit';

function classIndices(labels: ArrayLike<number>, where: string): number[][] {
  const byClass: number[][] = [];
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i]!;
    if (!Number.isInteger(l) || l < 0) inputError(where, `label ${l} at index ${i} is not a non-negative integer`);
    while (byClass.length <= l) byClass.push([]);
    byClass[l]!.push(i);
  }
  return byClass;
}

/** Largest-remainder rounding of `weights` (non-negative) to integers summing to `total`. */
function apportion(weights: number[], total: number): number[] {
  const sum = weights.reduce((a, b) => a + b, 0);
  if (sum === 0) return weights.map(() => 0);
  const exact = weights.map((w) => (w / sum) * total);
  const out = exact.map(Math.floor);
  let left = total - out.reduce((a, b) => a + b, 0);
  const order = exact.map((e, i) => ({ r: e - Math.floor(e), i })).sort((a, b) => b.r - a.r || a.i - b.i);
  for (let k = 0; left > 0; k++, left--) out[order[k % order.length]!.i]!++;
  return out;
}

/**
 * Integer matrix m[c][j] with row sums rows[c] and column sums cols[j]
 * (Σrows = Σcols), each entry the floor or ceiling of rows[c]·cols[j]/N where
 * possible: floors first, then +1s by largest fractional part, then any
 * leftover deficit filled greedily (always feasible).
 */
function controlledRound(rows: number[], cols: number[]): number[][] {
  const n = rows.reduce((a, b) => a + b, 0);
  const m = rows.map(() => cols.map(() => 0));
  if (n === 0) return m;
  const rowLeft = rows.slice();
  const colLeft = cols.slice();
  const fracs: { f: number; c: number; j: number }[] = [];
  rows.forEach((r, c) => {
    cols.forEach((k, j) => {
      const e = (r * k) / n;
      const fl = Math.floor(e + 1e-9);
      m[c]![j] = fl;
      rowLeft[c]! -= fl;
      colLeft[j]! -= fl;
      if (e - fl > 1e-9) fracs.push({ f: e - fl, c, j });
    });
  });
  fracs.sort((a, b) => b.f - a.f || a.c - b.c || a.j - b.j);
  for (const { c, j } of fracs) {
    if (rowLeft[c]! > 0 && colLeft[j]! > 0) {
      m[c]![j]!++;
      rowLeft[c]!--;
      colLeft[j]!--;
    }
  }
  for (let c = 0; c < rows.length; c++) {
    for (let j = 0; j < cols.length && rowLeft[c]! > 0; j++) {
      const t = Math.min(rowLeft[c]!, colLeft[j]!);
      m[c]![j]! += t;
      rowLeft[c]! -= t;
      colLeft[j]! -= t;
    }
  }
  return m;
}

/**
 * Splits sample indices into parts whose class proportions match the whole
 * (per class, part sizes are proportional to the part's share, rounded so
 * that part totals are exact). Within each class, which samples go where is
 * drawn from `rng`, so a seed gives the same split. Each returned part is
 * sorted ascending. Labels must be non-negative integers.
 */
export function stratifiedSplit(labels: ArrayLike<number>, spec: SplitSpec, rng: Rng): Int32Array[] {
  const n = labels.length;
  let totals: number[];
  if ('fractions' in spec) {
    const f = spec.fractions;
    if (!Array.isArray(f) || f.length === 0) inputError(WHERE, 'fractions must be a non-empty array');
    f.forEach((x, i) => {
      if (!Number.isFinite(x) || x < 0) inputError(WHERE, `fraction ${i} must be a finite number ≥ 0, got ${x}`);
    });
    const sum = f.reduce((a, b) => a + b, 0);
    if (sum > 1 + 1e-9) inputError(WHERE, `fractions sum to ${sum}, more than 1`);
    const used = Math.min(n, Math.round(sum * n));
    totals = apportion(f, used);
  } else if ('counts' in spec) {
    const c = spec.counts;
    if (!Array.isArray(c) || c.length === 0) inputError(WHERE, 'counts must be a non-empty array');
    c.forEach((x, i) => {
      if (!Number.isInteger(x) || x < 0) inputError(WHERE, `count ${i} must be a non-negative integer, got ${x}`);
    });
    const sum = c.reduce((a, b) => a + b, 0);
    if (sum > n) inputError(WHERE, `counts sum to ${sum} but there are only ${n} samples`);
    totals = c.slice();
  } else {
    inputError(WHERE, 'spec must be {fractions: number[]} or {counts: number[]}');
  }
  const byClass = classIndices(labels, WHERE);
  const rest = n - totals.reduce((a, b) => a + b, 0);
  const cols = [...totals, rest];
  const m = controlledRound(
    byClass.map((ix) => ix.length),
    cols,
  );
  const parts: number[][] = totals.map(() => []);
  byClass.forEach((ix, c) => {
    if (ix.length === 0) return;
    const perm = rng.permutation(ix.length);
    let k = 0;
    for (let j = 0; j < totals.length; j++) {
      for (let t = 0; t < m[c]![j]!; t++) parts[j]!.push(ix[perm[k++]!]!);
    }
  });
  return parts.map((p) => Int32Array.from(p).sort());
}

/**
 * Draws `perClass` samples from every class 0..max(label) (a number for all
 * classes, or one count per class), without replacement. Returns the chosen
 * indices sorted ascending. A class with too few samples is an error.
 */
export function stratifiedSubset(labels: ArrayLike<number>, perClass: number | number[], rng: Rng): Int32Array {
  const where = 'stratifiedSubset';
  const byClass = classIndices(labels, where);
  const want = typeof perClass === 'number' ? byClass.map(() => perClass) : perClass;
  if (Array.isArray(perClass) && perClass.length !== byClass.length) {
    inputError(where, `perClass has ${perClass.length} counts but labels have ${byClass.length} classes`);
  }
  const out: number[] = [];
  byClass.forEach((ix, c) => {
    const k = want[c]!;
    if (!Number.isInteger(k) || k < 0) inputError(where, `per-class count for class ${c} must be a non-negative integer, got ${k}`);
    if (k > ix.length) inputError(where, `class ${c} has ${ix.length} samples, cannot draw ${k}`);
    const perm = rng.permutation(ix.length);
    for (let t = 0; t < k; t++) out.push(ix[perm[t]!]!);
  });
  return Int32Array.from(out).sort();
}
