import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../engine/backend.js';
import { Rng } from '../engine/rng.js';
import { gaussianFeatures } from '../testing/t1Fixtures.js';
import { flattenHead, ProbeObjective, trainLinearProbe } from './t1/linearProbe.js';
import { gradPC, projectL2, projectLinf } from './gradPC.js';

beforeAll(async () => {
  await initBackend(process.env.HEMLOCK_TEST_BACKEND ?? 'wasm');
});

describe('GradPC target parameters', () => {
  it('projections', () => {
    const a = projectL2(Float64Array.from([3, 4]), 1);
    expect(a[0]).toBeCloseTo(0.6, 12);
    expect(a[1]).toBeCloseTo(0.8, 12);
    expect(Array.from(projectL2(Float64Array.from([0.3, 0.4]), 1))).toEqual([0.3, 0.4]);
    expect(Array.from(projectLinf(Float64Array.from([2, -3, 0.5]), 1))).toEqual([1, -1, 0.5]);
  });

  it('respects the ℓ2 and ℓ∞ radius and raises the clean loss', () => {
    const f = gaussianFeatures(200, { dim: 8, classes: 4, spread: 1.5 });
    const clean = trainLinearProbe(f, 4, { l2: 1e-3 }).head;
    const obj = new ProbeObjective(f, 4, 0);
    const loss = (h: typeof clean) => obj.evaluate(flattenHead(h)).loss;
    for (const [norm, radius] of [['l2', 0.5], ['linf', 0.05]] as const) {
      const r = gradPC(f, 4, clean, { norm, radius, epochs: 2 }, new Rng(1));
      const a = flattenHead(r.target).map((v, i) => v - flattenHead(clean)[i]!);
      const l2 = Math.sqrt(a.reduce((s, v) => s + v * v, 0));
      const linf = Math.max(...Array.from(a, Math.abs));
      if (norm === 'l2') expect(l2).toBeLessThanOrEqual(radius * (1 + 1e-5));
      else expect(linf).toBeLessThanOrEqual(radius * (1 + 1e-5));
      expect(r.distanceL2).toBeCloseTo(l2, 4);
      expect(loss(r.target)).toBeGreaterThan(loss(clean));
    }
    obj.dispose();
  });
});
