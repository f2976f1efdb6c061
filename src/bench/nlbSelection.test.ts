import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../engine/tf.js';
import { initBackend } from '../engine/backend.js';
import { Rng } from '../engine/rng.js';
import { contrastiveSelection } from './workloads.js';
import { nlbSelection, selectLargest, topSums, TopSumScratch } from './nlbSelection.js';

const BACKEND = process.env.HEMLOCK_TEST_BACKEND ?? 'wasm';

function normalised(rng: Rng, n: number, d: number, clusters = 0): tf.Tensor2D {
  const v = new Float32Array(n * d);
  const centres = Array.from({ length: clusters }, () => Array.from({ length: d }, () => rng.normal()));
  for (let i = 0; i < n; i++) {
    const c = clusters ? centres[rng.int(clusters)]! : null;
    for (let j = 0; j < d; j++) v[i * d + j] = rng.normal() + (c ? 2 * c[j]! : 0);
  }
  return tf.tidy(() => {
    const z = tf.tensor2d(v, [n, d]);
    return tf.div(z, tf.norm(z, 'euclidean', 1, true)) as tf.Tensor2D;
  });
}

describe('topSums / selectLargest', () => {
  it('selectLargest puts the k largest first, with ties and duplicates', () => {
    const rng = new Rng('sel');
    for (let t = 0; t < 50; t++) {
      const n = 1 + rng.int(300);
      const k = 1 + rng.int(n);
      const a = new Float64Array(n);
      for (let i = 0; i < n; i++) a[i] = rng.int(t % 2 ? 5 : 1000) - 10;
      const sorted = Array.from(a).sort((x, y) => y - x);
      selectLargest(a, n, k);
      expect(Array.from(a.subarray(0, k)).sort((x, y) => y - x)).toEqual(sorted.slice(0, k));
    }
  });

  it('topSums equals sums of a full sort, on sampled and small rows, with ties', () => {
    const rng = new Rng('topsums');
    for (const [n, m, levels] of [[10, 2, 0], [20_000, 1200, 0], [20_000, 3000, 7], [16_384, 1, 0], [9000, 4500, 0]] as const) {
      const row = new Float32Array(n + 5);
      for (let i = 0; i < row.length; i++) row[i] = levels ? rng.int(levels) / levels : Math.fround(rng.normal() * 0.1);
      const sorted = Array.from(row.subarray(5)).sort((a, b) => b - a);
      let t1 = 0;
      let t2 = 0;
      for (let i = 0; i < 2 * m; i++) {
        if (i < m) t1 += sorted[i]!;
        t2 += sorted[i]!;
      }
      const got = topSums(row, 5, n, m, new TopSumScratch(n));
      expect(got.top).toBeCloseTo(t1, 9);
      expect(got.top2).toBeCloseTo(t2, 9);
    }
  });
});

describe('nlbSelection (W5, exact)', () => {
  beforeAll(async () => {
    await initBackend(BACKEND);
  });

  for (const [n, d, m, clusters] of [[1500, 16, 90, 0], [1200, 8, 60, 5], [640, 32, 300, 3]] as const) {
    it(`equals the reference top-2M selection: N=${n} d=${d} M=${m}${clusters ? ` (${clusters} clusters)` : ''}`, () => {
      const z = normalised(new Rng(`nlb-${n}-${clusters}`), n, d, clusters);
      const before = tf.memory().numTensors;
      const fast = nlbSelection(z, m, 256);
      expect(tf.memory().numTensors).toBe(before);
      const ref = contrastiveSelection(z, m, 300);
      z.dispose();
      expect(fast.anchor).toBe(ref.anchor);
      expect(Array.from(fast.selected)).toEqual(Array.from(ref.selected));
      expect(fast.score).toBeCloseTo(ref.score, 3);
    });
  }

  it('rejects M outside 1..N/2', () => {
    const z = normalised(new Rng('nlb-bad'), 10, 4);
    expect(() => nlbSelection(z, 6)).toThrow(/2M <= N/);
    expect(() => nlbSelection(z, 0)).toThrow(/1 <= M/);
    z.dispose();
  });
});
