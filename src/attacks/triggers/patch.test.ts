import { describe, expect, it } from 'vitest';
import { PatchTriggerSchema, patchOrigin, patchTrigger } from './patch.js';

const cfg = (o: object) => PatchTriggerSchema.parse({ kind: 'patch', ...o });

describe('patch trigger', () => {
  it('stamps a checkerboard at the bottom-right corner (hand-checked pixels), leaves the rest and the input unchanged', () => {
    // Two 5×5 grey images with 1 channel; a 2×2 checkerboard with margin 1 covers rows 2–3, cols 2–3.
    const x = new Float32Array(2 * 25).fill(0.5);
    const copy = Float32Array.from(x);
    const y = patchTrigger(cfg({ size: 2 })).apply(x, [2, 5, 5, 1]);
    expect(x).toEqual(copy);
    for (let k = 0; k < 2; k++) {
      const px = (r: number, c: number) => y[k * 25 + r * 5 + c];
      expect([px(2, 2), px(2, 3), px(3, 2), px(3, 3)]).toEqual([1, 0, 0, 1]);
      expect(px(0, 0)).toBe(0.5);
      expect(px(4, 4)).toBe(0.5);
      expect(px(1, 2)).toBe(0.5);
    }
    let changed = 0;
    for (let i = 0; i < y.length; i++) if (y[i] !== x[i]) changed++;
    expect(changed).toBe(2 * 4);
  });

  it('solid patches fill every channel; positions: corners, centre, explicit; a patch that does not fit is an input error', () => {
    const x = new Float32Array(1 * 4 * 4 * 3).fill(0.2);
    const y = patchTrigger(cfg({ size: 1, pattern: 'solid', value: 0.9, position: 'top-left', margin: 0 })).apply(x, [1, 4, 4, 3]);
    expect(Array.from(y.subarray(0, 3))).toEqual([0.9, 0.9, 0.9].map(Math.fround));
    expect(y[3]).toBeCloseTo(0.2, 6);
    expect(patchOrigin(cfg({ size: 3, position: 'center' }), 28, 28)).toEqual([12, 12]);
    expect(patchOrigin(cfg({ size: 3, position: 'top-right' }), 28, 28)).toEqual([1, 24]);
    expect(patchOrigin(cfg({ size: 3, position: 'bottom-left', margin: 0 }), 28, 28)).toEqual([25, 0]);
    expect(patchOrigin(cfg({ size: 3, position: [5, 7] }), 28, 28)).toEqual([5, 7]);
    expect(() => patchTrigger(cfg({ size: 5 })).apply(x, [1, 4, 4, 3])).toThrow(/does not fit a 4×4 image/);
    expect(() => patchTrigger(cfg({})).apply(x, [2, 4, 4, 3])).toThrow(/values for shape/);
  });

  it('output stays in [0,1]', () => {
    const x = Float32Array.from({ length: 3 * 8 * 8 }, (_, i) => (i % 7) / 6);
    const y = patchTrigger(cfg({ size: 4 })).apply(x, [3, 8, 8, 1]);
    expect(y.every((v) => v >= 0 && v <= 1)).toBe(true);
  });
});
