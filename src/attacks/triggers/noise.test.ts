import { describe, expect, it } from 'vitest';
import { NoiseTriggerSchema, noisePattern, noiseTrigger } from './noise.js';

const cfg = (o: object) => NoiseTriggerSchema.parse({ kind: 'noise', ...o });

describe('noise trigger', () => {
  it('adds the same seeded pattern to every image, clipped to [0,1], input unchanged', () => {
    const c = cfg({ epsilon: 0.3, seed: 1 });
    const d = noisePattern(c, 3, 3, 1);
    expect(d.every((v) => v >= -0.3 && v <= 0.3)).toBe(true);
    expect(noisePattern(c, 3, 3, 1)).toEqual(d);
    const x = Float32Array.from([...new Array(9).fill(0.5), ...new Array(9).fill(0), ...new Array(9).fill(1)]);
    const copy = Float32Array.from(x);
    const y = noiseTrigger(c).apply(x, [3, 3, 3, 1]);
    expect(x).toEqual(copy);
    for (let i = 0; i < 9; i++) {
      expect(y[i]).toBeCloseTo(0.5 + d[i]!, 6);
      expect(y[9 + i]).toBeCloseTo(Math.max(0, d[i]!), 6);
      expect(y[18 + i]).toBeCloseTo(Math.min(1, 1 + d[i]!), 6);
    }
    expect(y.every((v) => v >= 0 && v <= 1)).toBe(true);
  });

  it('gaussian noise has σ ≈ ε', () => {
    const d = noisePattern(cfg({ epsilon: 0.1, distribution: 'gaussian' }), 50, 50, 1);
    const m = d.reduce((a, v) => a + v, 0) / d.length;
    const sd = Math.sqrt(d.reduce((a, v) => a + (v - m) ** 2, 0) / d.length);
    expect(Math.abs(m)).toBeLessThan(0.01);
    expect(sd).toBeGreaterThan(0.095);
    expect(sd).toBeLessThan(0.105);
  });
});
