import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../engine/backend.js';
import { Rng } from '../../engine/rng.js';
import { knnPredict } from './knn.js';

const BACKEND = process.env.HEMLOCK_TEST_BACKEND ?? 'wasm';

/** Weighted k-NN by its definition, in float64. */
function knnLoop(bank: number[][], labels: number[], queries: number[][], numClasses: number, k: number, t: number): number[] {
  const unit = (r: number[]) => {
    const n = Math.hypot(...r);
    return r.map((v) => v / n);
  };
  const b = bank.map(unit);
  return queries.map((q0) => {
    const q = unit(q0);
    const sims = b.map((r, i) => ({ s: r.reduce((a, v, j) => a + v * q[j]!, 0), i })).sort((x, y) => y.s - x.s).slice(0, k);
    const scores = new Array(numClasses).fill(0);
    for (const { s, i } of sims) scores[labels[i]!] += Math.exp(s / t);
    return scores.indexOf(Math.max(...scores));
  });
}

describe(`k-NN monitor (${BACKEND})`, () => {
  beforeAll(async () => {
    await initBackend(BACKEND);
  });

  it('weighted k-NN equals the definition (chunked queries)', () => {
    const rng = new Rng(3);
    const d = 6;
    const bank = Array.from({ length: 40 }, () => Array.from({ length: d }, () => rng.normal()));
    const labels = Array.from({ length: 40 }, () => rng.int(4));
    const queries = Array.from({ length: 23 }, () => Array.from({ length: d }, () => rng.normal()));
    for (const [k, t] of [[1, 0.1], [5, 0.1], [7, 1]] as const) {
      const got = knnPredict(new Float32Array(bank.flat()), new Int32Array(labels), new Float32Array(queries.flat()), d, 4, k, t, 5);
      expect(Array.from(got)).toEqual(knnLoop(bank, labels, queries, 4, k, t));
    }
  });

  it('classifies well-separated clusters perfectly', () => {
    const bank = new Float32Array([1, 0, 0.9, 0.1, 0, 1, 0.1, 0.9]);
    const got = knnPredict(bank, new Int32Array([0, 0, 1, 1]), new Float32Array([0.95, 0.05, 0.05, 0.95]), 2, 2, 2, 0.1);
    expect(Array.from(got)).toEqual([0, 1]);
  });
});
