import { describe, expect, it } from 'vitest';
import { Rng } from '../engine/rng.js';
import { auroc } from '../eval/metrics.js';
import { activationClustering, ActivationClusteringSchema, activationClusteringScores, kMeans, pcaProject } from './activationClustering.js';
import { centredRows } from './spectralSignatures.js';

/** n points around `centre` (dim-d) with Gaussian noise of scale `sd`. */
function blob(rng: Rng, n: number, centre: number[], sd: number): number[][] {
  return Array.from({ length: n }, () => centre.map((c) => c + sd * rng.normal()));
}

describe('activation clustering', () => {
  it('k-means (k-means++ seeding) splits two hand-made groups exactly and is seeded', () => {
    const pts = Float64Array.from([0, 0, 0, 1, 1, 0, 10, 10, 10, 11, 11, 10, 11, 11]);
    const r = kMeans(pts, 7, 2, 2, new Rng(0));
    const a = Array.from(r.assignment);
    expect(new Set(a.slice(0, 3)).size).toBe(1);
    expect(new Set(a.slice(3)).size).toBe(1);
    expect(a[0]).not.toBe(a[3]);
    expect([...r.sizes].sort()).toEqual([3, 4]);
    const c = a[3]!; // centroid of the 4-point group is (10.5, 10.5)
    expect(r.centroids[c * 2]).toBeCloseTo(10.5, 12);
    expect(r.centroids[c * 2 + 1]).toBeCloseTo(10.5, 12);
    // within-cluster sum of squares: 3 points around (1/3, 1/3): 4/3; 4 points at distance √0.5: 2.
    expect(r.inertia).toBeCloseTo(4 / 3 + 2, 10);
    expect(Array.from(kMeans(pts, 7, 2, 2, new Rng(0)).assignment)).toEqual(a);
  });

  it('PCA projects on the principal direction (points on the line y = 2x project to ±distance along it); whitening gives unit variance', () => {
    const z = Float32Array.from([-2, -4, -1, -2, 1, 2, 2, 4]);
    const { rows } = centredRows(z, 2, [0, 1, 2, 3]);
    const p = pcaProject(rows, 4, 2, 1, new Rng(0));
    const s5 = Math.sqrt(5);
    [-2 * s5, -s5, s5, 2 * s5].forEach((v, i) => expect(Math.abs(p[i]!)).toBeCloseTo(Math.abs(v), 5));
    expect(Math.sign(p[0]!)).toBe(-Math.sign(p[3]!));
    const w = pcaProject(rows, 4, 2, 1, new Rng(0), true);
    expect(Array.from(w).reduce((a, v) => a + v * v, 0) / 4).toBeCloseTo(1, 6);
  });

  it('flags a small separate cluster inside a class (score 1 − its relative size) and nothing in one-blob classes', async () => {
    const rng = new Rng(3);
    const dim = 16;
    const centre = (k: number) => Array.from({ length: dim }, (_, j) => (j === k ? 4 : 1));
    // Class 0: 80 clean + 20 "poisons" shifted along dims 5 and 6; class 1: 100 clean.
    const rows = [...blob(rng, 80, centre(0), 0.5), ...blob(rng, 20, centre(0).map((v, j) => v + (j === 5 || j === 6 ? 2.5 : 0)), 0.5), ...blob(rng, 100, centre(1), 0.5)];
    const z = Float32Array.from(rows.flat());
    const labels = Int32Array.from(rows.map((_, i) => (i < 100 ? 0 : 1)));
    const isPoison = rows.map((_, i) => i >= 80 && i < 100);
    const { scores, removed, clusterSizes } = activationClusteringScores(z, dim, labels, 2, ActivationClusteringSchema.parse({}), new Rng(0));
    expect([...clusterSizes[0]!].sort((a, b) => a - b)).toEqual([20, 80]);
    expect(Array.from(removed)).toEqual(Array.from({ length: 20 }, (_, k) => 80 + k));
    expect(scores[85]).toBeCloseTo(0.8, 6);
    expect(scores[10]).toBeCloseTo(0.2, 6);
    expect(Math.min(...clusterSizes[1]!)).toBeGreaterThanOrEqual(35); // one Gaussian blob: a roughly even split, not flagged
    expect(auroc(scores, isPoison)).toBe(1);
  });

  it('needs the model (its features): a clear input error without one', async () => {
    const art = { poisonedTrain: {} } as never;
    await expect(activationClustering.detect(art, { rng: new Rng(0) }, ActivationClusteringSchema.parse({}))).rejects.toThrow(/activation-clustering: needs the model/);
  });
});
