import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../engine/tf.js';
import { initBackend } from '../engine/backend.js';
import { Rng } from '../engine/rng.js';
import { augment, randomFlip, randomShift } from './augment.js';

const BACKEND = process.env.HEMLOCK_TEST_BACKEND ?? 'wasm';

function rand(shape: [number, number, number, number], seed: number): tf.Tensor4D {
  const r = new Rng(seed);
  const v = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < v.length; i++) v[i] = r.next();
  return tf.tensor4d(v, shape);
}

/** Naive reference: pad, then crop at the same offsets randomShift draws. */
function naiveShift(x: tf.Tensor4D, p: number, mode: 'reflect' | 'zero', seed: number): number[] {
  const [n, h, w, c] = x.shape;
  const rng = new Rng(seed);
  const offsets = Array.from({ length: n }, () => [rng.int(2 * p + 1), rng.int(2 * p + 1)] as const);
  const paddings: [number, number][] = [[0, 0], [p, p], [p, p], [0, 0]];
  const xp = (mode === 'reflect' ? tf.mirrorPad(x, paddings, 'reflect') : tf.pad(x, paddings)).arraySync() as number[][][][];
  const out: number[] = [];
  for (let s = 0; s < n; s++)
    for (let i = 0; i < h; i++)
      for (let j = 0; j < w; j++)
        for (let ch = 0; ch < c; ch++) out.push(xp[s]![i + offsets[s]![0]]![j + offsets[s]![1]]![ch]!);
  return out;
}

describe(`augmentation (${BACKEND})`, () => {
  beforeAll(async () => {
    await initBackend(BACKEND);
  });

  for (const [c, mode] of [[1, 'reflect'], [3, 'zero'], [3, 'reflect']] as const) {
    it(`random shift equals a naive pad-and-crop (C=${c}, ${mode})`, () => {
      const x = rand([5, 7, 9, c], 1);
      const got = Array.from(randomShift(x, 2, mode, new Rng(42)).dataSync());
      const want = naiveShift(x, 2, mode, 42);
      expect(got.length).toBe(want.length);
      for (let i = 0; i < got.length; i++) expect(got[i]).toBeCloseTo(want[i]!, 6);
    });
  }

  it('random flip mirrors exactly the chosen images', () => {
    const x = rand([16, 4, 5, 2], 2);
    const y = randomFlip(x, new Rng(3)).arraySync();
    const xr = tf.reverse(x, 2).arraySync();
    const xa = x.arraySync();
    const rng = new Rng(3);
    let flipped = 0;
    for (let i = 0; i < 16; i++) {
      const f = rng.next() < 0.5;
      flipped += f ? 1 : 0;
      expect(y[i]).toEqual(f ? xr[i] : xa[i]);
    }
    expect(flipped).toBeGreaterThan(0);
    expect(flipped).toBeLessThan(16);
  });

  it('is differentiable with respect to the input (shift is a permutation of pixels)', () => {
    const x = rand([3, 6, 6, 1], 4);
    const cfg = { shift: 1, shiftPadding: 'zero' as const, flip: true, brightness: 0, contrast: 0, noise: 0 };
    const g = tf.grad((v: tf.Tensor) => tf.sum(augment(v as tf.Tensor4D, cfg, new Rng(5))))(x);
    // With zero padding each output pixel copies one input pixel: the gradient counts
    // how often each input pixel is used, an integer between 0 and 1 here.
    const vals = Array.from(g.dataSync());
    for (const v of vals) expect([0, 1]).toContain(Math.round(v * 1e6) / 1e6);
    expect(vals.reduce((a, b) => a + b, 0)).toBeCloseTo(3 * 6 * 6 - vals.filter((v) => v === 0).length, 5);
  });

  it('the same seed gives the same augmentation; outputs stay in [0,1]', () => {
    const x = rand([8, 6, 6, 3], 6);
    const cfg = { shift: 2, shiftPadding: 'reflect' as const, flip: true, brightness: 0.3, contrast: 0.3, noise: 0.1 };
    const a = augment(x, cfg, new Rng(7)).dataSync();
    const b = augment(x, cfg, new Rng(7)).dataSync();
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Math.min(...a)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...a)).toBeLessThanOrEqual(1);
  });
});
