import { tf, type Tensor, type Tensor4D } from '../engine/tf.js';
import { Rng } from '../engine/rng.js';

/**
 * Differentiable, seeded image augmentation on NHWC batches in [0,1]. Every
 * transform is built from ops with gradients (batched matMul, mul, add, clip),
 * so attacks can backpropagate through augmentation to their perturbations
 * (Witches' Brew brews "through" the victim's augmentation this way).
 */
export interface AugmentConfig {
  /** Maximum random shift in pixels along each axis (0 = off). */
  shift: number;
  /** How the border is filled when shifting. */
  shiftPadding: 'reflect' | 'zero';
  /** Random horizontal flip with probability 1/2. */
  flip: boolean;
  /** Brightness jitter: add b ~ U(−brightness, brightness). */
  brightness: number;
  /** Contrast jitter: scale around the image mean by c ~ U(1−contrast, 1+contrast). */
  contrast: number;
  /** Gaussian noise standard deviation. */
  noise: number;
}

export const NO_AUGMENT: AugmentConfig = { shift: 0, shiftPadding: 'zero', flip: false, brightness: 0, contrast: 0, noise: 0 };

export function isIdentity(cfg: AugmentConfig): boolean {
  return cfg.shift === 0 && !cfg.flip && cfg.brightness === 0 && cfg.contrast === 0 && cfg.noise === 0;
}

/** One-hot selection matrices S[n] (size × (size+2p)) with S[n][i][i+offset[n]] = 1. */
function selectionMatrices(offsets: Int32Array, size: number, pad: number): Tensor {
  const n = offsets.length;
  const cols = size + 2 * pad;
  const m = new Float32Array(n * size * cols);
  for (let s = 0; s < n; s++) for (let i = 0; i < size; i++) m[s * size * cols + i * cols + i + offsets[s]!] = 1;
  return tf.tensor3d(m, [n, size, cols]);
}

/**
 * Shifts each image by its own integer offset in [−p, p]², filling the border
 * by reflection or zeros. Implemented as out[n] = R[n] · pad(x)[n] · C[n]ᵀ with
 * one-hot row/column selectors, i.e. two batched matMuls: exact, and
 * differentiable with respect to x.
 */
export function randomShift(x: Tensor4D, maxShift: number, padding: 'reflect' | 'zero', rng: Rng): Tensor4D {
  if (maxShift <= 0) return x;
  const [n, h, w, c] = x.shape;
  const p = Math.min(maxShift, h - 1, w - 1);
  const dy = new Int32Array(n);
  const dx = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    dy[i] = rng.int(2 * p + 1);
    dx[i] = rng.int(2 * p + 1);
  }
  return tf.tidy(() => {
    const paddings: [number, number][] = [[0, 0], [p, p], [p, p], [0, 0]];
    const xp = padding === 'reflect' ? tf.mirrorPad(x, paddings, 'reflect') : tf.pad(x, paddings);
    const hp = h + 2 * p;
    const wp = w + 2 * p;
    const rows = selectionMatrices(dy, h, p); // [n, h, hp]
    const colsT = tf.transpose(selectionMatrices(dx, w, p), [0, 2, 1]); // [n, wp, w]
    // Select rows: [n, h, hp] × [n, hp, wp·c] → [n, h, wp·c].
    const r = tf.matMul(rows, tf.reshape(xp, [n, hp, wp * c]) as tf.Tensor3D);
    // Select columns: bring width last, [n, h·c, wp] × [n, wp, w] → [n, h·c, w].
    const rt = c === 1 ? tf.reshape(r, [n, h, wp]) : tf.reshape(tf.transpose(tf.reshape(r, [n, h, wp, c]), [0, 1, 3, 2]), [n, h * c, wp]);
    const out = tf.matMul(rt as tf.Tensor3D, colsT as tf.Tensor3D);
    return (c === 1 ? tf.reshape(out, [n, h, w, 1]) : tf.transpose(tf.reshape(out, [n, h, c, w]), [0, 1, 3, 2])) as Tensor4D;
  });
}

/** Flips each image horizontally with probability 1/2 (x·(1−m) + flip(x)·m). */
export function randomFlip(x: Tensor4D, rng: Rng): Tensor4D {
  const n = x.shape[0];
  const m = new Float32Array(n);
  for (let i = 0; i < n; i++) m[i] = rng.next() < 0.5 ? 1 : 0;
  return tf.tidy(() => {
    const mask = tf.tensor4d(m, [n, 1, 1, 1]);
    return tf.add(tf.mul(x, tf.sub(1, mask)), tf.mul(tf.reverse(x, 2), mask)) as Tensor4D;
  });
}

/** Per-image brightness and contrast jitter, clipped back into [0,1]. */
export function jitter(x: Tensor4D, brightness: number, contrast: number, rng: Rng): Tensor4D {
  if (brightness <= 0 && contrast <= 0) return x;
  const n = x.shape[0];
  const b = new Float32Array(n);
  const c = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    b[i] = brightness > 0 ? rng.uniform(-brightness, brightness) : 0;
    c[i] = contrast > 0 ? rng.uniform(1 - contrast, 1 + contrast) : 1;
  }
  return tf.tidy(() => {
    const mean = tf.mean(x, [1, 2, 3], true);
    const scaled = tf.add(tf.mul(tf.sub(x, mean), tf.tensor4d(c, [n, 1, 1, 1])), mean);
    return tf.clipByValue(tf.add(scaled, tf.tensor4d(b, [n, 1, 1, 1])), 0, 1) as Tensor4D;
  });
}

/** Additive Gaussian noise, clipped back into [0,1]. */
export function gaussianNoise(x: Tensor4D, sigma: number, rng: Rng): Tensor4D {
  if (sigma <= 0) return x;
  const noise = new Float32Array(x.size);
  for (let i = 0; i < noise.length; i++) noise[i] = sigma * rng.normal();
  return tf.tidy(() => tf.clipByValue(tf.add(x, tf.tensor(noise, x.shape)), 0, 1) as Tensor4D);
}

/** Applies the configured augmentations in a fixed order: shift, flip, jitter, noise. */
export function augment(x: Tensor4D, cfg: AugmentConfig, rng: Rng): Tensor4D {
  if (isIdentity(cfg)) return x;
  return tf.tidy(() => {
    let y = randomShift(x, cfg.shift, cfg.shiftPadding, rng);
    if (cfg.flip) y = randomFlip(y, rng);
    y = jitter(y, cfg.brightness, cfg.contrast, rng);
    return gaussianNoise(y, cfg.noise, rng);
  });
}
