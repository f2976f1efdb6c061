import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../engine/tf.js';
import { initBackend } from '../../engine/backend.js';
import { Rng } from '../../engine/rng.js';
import {
  applyColour,
  applyGeometric,
  drawSslAugmentParams,
  gaussianMatrix,
  geometricMatrices,
  randomCropBox,
  resizeMatrix,
  sslAugment,
  sslAugmentWith,
  SSL_AUGMENT_DEFAULTS,
  type SslAugmentParams,
} from './sslAugment.js';

const BACKEND = process.env.HEMLOCK_TEST_BACKEND ?? 'wasm';

function rand(shape: [number, number, number, number], seed: number): tf.Tensor4D {
  const r = new Rng(seed);
  const v = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < v.length; i++) v[i] = r.next();
  return tf.tensor4d(v, shape);
}

/** Naive reference: crop the box, bilinear-resize (half-pixel centres, edge clamp) to h×w, flip, blur with reflect padding. */
function naiveGeometric(img: number[][][], box: { top: number; left: number; height: number; width: number }, flip: boolean, sigma: number): number[][][] {
  const h = img.length;
  const w = img[0]!.length;
  const c = img[0]![0]!.length;
  const sample = (len: number, i: number, out: number) => {
    const src = Math.max(0, (i + 0.5) * (len / out) - 0.5);
    const i0 = Math.min(Math.floor(src), len - 1);
    return { i0, i1: Math.min(i0 + 1, len - 1), t: src - i0 };
  };
  let out: number[][][] = [];
  for (let i = 0; i < h; i++) {
    const row: number[][] = [];
    for (let j = 0; j < w; j++) {
      const a = sample(box.height, i, h);
      const b = sample(box.width, j, w);
      const px: number[] = [];
      for (let ch = 0; ch < c; ch++) {
        const g = (y: number, x: number) => img[box.top + y]![box.left + x]![ch]!;
        px.push((1 - a.t) * ((1 - b.t) * g(a.i0, b.i0) + b.t * g(a.i0, b.i1)) + a.t * ((1 - b.t) * g(a.i1, b.i0) + b.t * g(a.i1, b.i1)));
      }
      row.push(px);
    }
    out.push(flip ? row.reverse() : row);
  }
  if (sigma > 0) {
    const r = Math.min(h - 1, w - 1, Math.ceil(3 * sigma));
    const k = Array.from({ length: 2 * r + 1 }, (_, i) => Math.exp(-((i - r) ** 2) / (2 * sigma * sigma)));
    const sum = k.reduce((p, q) => p + q, 0);
    const refl = (i: number, n: number) => (i < 0 ? -i : i >= n ? 2 * (n - 1) - i : i);
    const blurRows = out.map((_, i) => out[0]!.map((__, j) => out[0]![0]!.map((___, ch) => k.reduce((acc, kv, t) => acc + (kv / sum) * out[refl(i + t - r, h)]![j]![ch]!, 0))));
    out = blurRows.map((row, i) => row.map((_, j) => row[0]!.map((__, ch) => k.reduce((acc, kv, t) => acc + (kv / sum) * blurRows[i]![refl(j + t - r, w)]![ch]!, 0))));
  }
  return out;
}

function identityParams(n: number): SslAugmentParams {
  return {
    boxes: [],
    flips: Array(n).fill(false),
    blurSigmas: Array(n).fill(0),
    brightness: new Float32Array(n).fill(1),
    contrast: new Float32Array(n).fill(1),
    saturation: new Float32Array(n).fill(1),
    grayscale: new Float32Array(n),
    noise: null,
  };
}

describe(`SSL augmentation (${BACKEND})`, () => {
  beforeAll(async () => {
    await initBackend(BACKEND);
  });

  it('resizeMatrix of the full segment is the identity; rows always sum to 1', () => {
    const m = resizeMatrix(7, 7, 0, 7);
    for (let i = 0; i < 7; i++) for (let j = 0; j < 7; j++) expect(m[i * 7 + j]).toBeCloseTo(i === j ? 1 : 0, 6);
    const r = resizeMatrix(9, 12, 3, 5);
    for (let i = 0; i < 9; i++) {
      let s = 0;
      for (let j = 0; j < 12; j++) {
        s += r[i * 12 + j]!;
        if (j < 3 || j >= 8) expect(r[i * 12 + j]).toBe(0); // only the crop is read
      }
      expect(s).toBeCloseTo(1, 6);
    }
  });

  it('random crop boxes lie inside the image with area and aspect ratio in range (or the central fallback)', () => {
    const rng = new Rng(1);
    for (let t = 0; t < 200; t++) {
      const b = randomCropBox(28, 20, [0.2, 1], [3 / 4, 4 / 3], rng);
      expect(b.top).toBeGreaterThanOrEqual(0);
      expect(b.left).toBeGreaterThanOrEqual(0);
      expect(b.top + b.height).toBeLessThanOrEqual(28);
      expect(b.left + b.width).toBeLessThanOrEqual(20);
      const area = (b.height * b.width) / (28 * 20);
      // Rounding to whole pixels moves the area a little off the drawn fraction.
      expect(area).toBeGreaterThan(0.15);
      expect(area).toBeLessThanOrEqual(1);
    }
  });

  for (const c of [1, 3]) {
    it(`crop + bilinear resize + flip + blur equals a naive per-pixel reference (C=${c})`, () => {
      const n = 6;
      const x = rand([n, 9, 11, c], 3 + c);
      const p = drawSslAugmentParams(n, 9, 11, c, { ...SSL_AUGMENT_DEFAULTS, blurProb: 0.5, blurSigma: [0.3, 1.2] }, new Rng(5));
      expect(p.flips.some((f) => f) && p.flips.some((f) => !f)).toBe(true);
      expect(p.blurSigmas.some((s) => s > 0) && p.blurSigmas.some((s) => s === 0)).toBe(true);
      const { rows, cols } = geometricMatrices(p, 9, 11);
      const got = applyGeometric(x, rows, cols).arraySync();
      const xa = x.arraySync();
      for (let s = 0; s < n; s++) {
        const want = naiveGeometric(xa[s]!, p.boxes[s]!, p.flips[s]!, p.blurSigmas[s]!);
        for (let i = 0; i < 9; i++) for (let j = 0; j < 11; j++) for (let ch = 0; ch < c; ch++) expect(got[s]![i]![j]![ch]).toBeCloseTo(want[i]![j]![ch]!, 5);
      }
    });
  }

  it('gaussianMatrix rows sum to 1 and a constant image stays constant', () => {
    const g = gaussianMatrix(10, 1.5);
    for (let i = 0; i < 10; i++) expect(g.subarray(i * 10, i * 10 + 10).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
  });

  it('colour jitter and grayscale match a per-pixel reference (C=3)', () => {
    const n = 4;
    const x = rand([n, 3, 4, 3], 8);
    const p = identityParams(n);
    p.brightness.set([1.3, 0.7, 1, 1.1]);
    p.contrast.set([0.6, 1.4, 1, 0.9]);
    p.saturation.set([1.2, 0.5, 1, 0.8]);
    p.grayscale.set([0, 0, 1, 0]);
    const got = applyColour(x, p).arraySync();
    const xa = x.arraySync();
    const clip = (v: number) => Math.min(1, Math.max(0, v));
    const lum = (px: number[]) => 0.299 * px[0]! + 0.587 * px[1]! + 0.114 * px[2]!;
    for (let s = 0; s < n; s++) {
      let img = xa[s]!.map((r) => r.map((px) => px.map((v) => clip(v * p.brightness[s]!))));
      const mean = img.flat().reduce((a, px) => a + lum(px), 0) / 12;
      img = img.map((r) => r.map((px) => px.map((v) => clip(p.contrast[s]! * v + (1 - p.contrast[s]!) * mean))));
      img = img.map((r) => r.map((px) => px.map((v) => clip(p.saturation[s]! * v + (1 - p.saturation[s]!) * lum(px)))));
      if (p.grayscale[s]) img = img.map((r) => r.map((px) => [lum(px), lum(px), lum(px)]));
      for (let i = 0; i < 3; i++) for (let j = 0; j < 4; j++) for (let ch = 0; ch < 3; ch++) expect(got[s]![i]![j]![ch]).toBeCloseTo(img[i]![j]![ch]!, 5);
    }
  });

  it('the same seed gives the same views, values stay in [0,1], two draws differ', () => {
    const x = rand([8, 10, 10, 3], 6);
    const cfg = { ...SSL_AUGMENT_DEFAULTS, blurProb: 0.5, noise: 0.05 };
    const a = sslAugment(x, cfg, new Rng(7)).dataSync();
    const b = sslAugment(x, cfg, new Rng(7)).dataSync();
    expect(Array.from(a)).toEqual(Array.from(b));
    const rng = new Rng(7);
    const v1 = sslAugment(x, cfg, rng).dataSync();
    const v2 = sslAugment(x, cfg, rng).dataSync();
    expect(Array.from(v1)).not.toEqual(Array.from(v2));
    expect(Math.min(...a)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...a)).toBeLessThanOrEqual(1);
  });

  it('is differentiable with respect to the input (the geometric part is linear)', () => {
    const x = rand([3, 6, 6, 1], 4);
    const p = drawSslAugmentParams(3, 6, 6, 1, { ...SSL_AUGMENT_DEFAULTS, jitterProb: 0 }, new Rng(9));
    const g = tf.grad((v: tf.Tensor) => tf.sum(sslAugmentWith(v as tf.Tensor4D, p)))(x);
    // d Σ out / d x = Σ over output pixels of the interpolation weights = column sums of R ⊗ C.
    const { rows, cols } = geometricMatrices(p, 6, 6);
    const got = g.arraySync() as number[][][][];
    for (let s = 0; s < 3; s++)
      for (let a = 0; a < 6; a++)
        for (let b = 0; b < 6; b++) {
          let rs = 0;
          let cs = 0;
          for (let i = 0; i < 6; i++) rs += rows[s * 36 + i * 6 + a]!;
          for (let j = 0; j < 6; j++) cs += cols[s * 36 + j * 6 + b]!;
          expect(got[s]![a]![b]![0]).toBeCloseTo(rs * cs, 4);
        }
  });

  it('does not leak tensors', () => {
    const x = rand([4, 8, 8, 3], 1);
    const rng = new Rng(1);
    sslAugment(x, { ...SSL_AUGMENT_DEFAULTS, noise: 0.1, blurProb: 1 }, rng).dispose();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 20; i++) sslAugment(x, { ...SSL_AUGMENT_DEFAULTS, noise: 0.1, blurProb: 1 }, rng).dispose();
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });
});
