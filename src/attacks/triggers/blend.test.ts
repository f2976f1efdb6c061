import { describe, expect, it } from 'vitest';
import { BlendTriggerSchema, blendPattern, blendTrigger } from './blend.js';

const cfg = (o: object) => BlendTriggerSchema.parse({ kind: 'blend', ...o });

describe('blend trigger', () => {
  it("x' = (1−α)x + αp with a given pattern (hand-checked), input unchanged", () => {
    const x = Float32Array.from([0, 0.5, 1, 0.25, 0, 0.5, 1, 0.25]); // two 2×2×1 images
    const copy = Float32Array.from(x);
    const y = blendTrigger(cfg({ alpha: 0.5, pattern: [1, 0, 0.5, 1] })).apply(x, [2, 2, 2, 1]);
    expect(x).toEqual(copy);
    const want = [0.5, 0.25, 0.75, 0.625, 0.5, 0.25, 0.75, 0.625];
    want.forEach((v, i) => expect(y[i]).toBeCloseTo(v, 6));
  });

  it('an h·w pattern is shared by the channels; a wrong-sized pattern is an input error', () => {
    expect(Array.from(blendPattern(cfg({ pattern: [0.1, 0.9] }), 1, 2, 2))).toEqual([0.1, 0.1, 0.9, 0.9].map(Math.fround));
    expect(() => blendTrigger(cfg({ pattern: [0.1, 0.2, 0.3] })).apply(new Float32Array(4), [1, 2, 2, 1])).toThrow(/trigger\.pattern: 3 values/);
  });

  it('the random pattern is seeded (same seed, same pattern; other seed, other pattern) and the output stays in [0,1]', () => {
    const a = blendPattern(cfg({ seed: 3 }), 4, 4, 1);
    expect(blendPattern(cfg({ seed: 3 }), 4, 4, 1)).toEqual(a);
    expect(blendPattern(cfg({ seed: 4 }), 4, 4, 1)).not.toEqual(a);
    const x = Float32Array.from({ length: 2 * 16 }, (_, i) => (i % 5) / 4);
    const y = blendTrigger(cfg({ alpha: 0.2, seed: 3 })).apply(x, [2, 4, 4, 1]);
    expect(y.every((v) => v >= 0 && v <= 1)).toBe(true);
    expect(y[0]).toBeCloseTo(0.8 * x[0]! + 0.2 * a[0]!, 6);
    expect(y[17]).toBeCloseTo(0.8 * x[17]! + 0.2 * a[1]!, 6);
  });
});
