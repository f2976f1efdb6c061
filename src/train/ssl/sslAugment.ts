import { tf, type Tensor, type Tensor4D } from '../../engine/tf.js';
import { Rng } from '../../engine/rng.js';

/**
 * The SSL view augmentations (SimCLR's recipe, sized for small images):
 * random resized crop, horizontal flip, colour jitter (brightness, contrast,
 * and saturation when there are 3 channels), random grayscale (3 channels),
 * Gaussian blur, Gaussian noise. Seeded by an Rng, batched per sample, and
 * built from differentiable ops, so attacks can backpropagate through them.
 *
 * The geometric part (crop + bilinear resize, flip, blur) is linear in the
 * image: each sample's output is R[n] · x[n] · C[n]ᵀ with a row matrix R[n]
 * (h × H) and a column matrix C[n] (w × W) composed on the CPU, so it costs
 * two batched matMuls whatever is switched on. Blur is applied with the
 * geometric part (before colour jitter; torchvision blurs after it, which
 * differs only where jitter clips).
 */
export interface SslAugmentConfig {
  /** Random resized crop: area fraction range and aspect-ratio range (torchvision RandomResizedCrop). */
  cropScale: [number, number];
  cropRatio: [number, number];
  /** Horizontal flip with probability 1/2. */
  flip: boolean;
  /** Probability of applying colour jitter to a view. */
  jitterProb: number;
  /** Brightness factor ~ U(1−b, 1+b) multiplies the image (torchvision adjust_brightness). */
  brightness: number;
  /** Contrast factor ~ U(1−c, 1+c) blends with the image's mean gray level. */
  contrast: number;
  /** Saturation factor ~ U(1−s, 1+s) blends with the grayscale image (3 channels only). */
  saturation: number;
  /** Probability of converting a view to grayscale (3 channels only). */
  grayscaleProb: number;
  /** Probability of a Gaussian blur, with σ ~ U(blurSigma). */
  blurProb: number;
  blurSigma: [number, number];
  /** Additive Gaussian noise standard deviation (0 = off). */
  noise: number;
}

export const SSL_AUGMENT_DEFAULTS: SslAugmentConfig = {
  cropScale: [0.2, 1],
  cropRatio: [3 / 4, 4 / 3],
  flip: true,
  jitterProb: 0.8,
  brightness: 0.4,
  contrast: 0.4,
  saturation: 0.4,
  grayscaleProb: 0.2,
  blurProb: 0,
  blurSigma: [0.1, 2],
  noise: 0,
};

/** A crop box in pixels. */
export interface CropBox {
  top: number;
  left: number;
  height: number;
  width: number;
}

/** Everything random about one batch of views, drawn up front. */
export interface SslAugmentParams {
  boxes: CropBox[];
  flips: boolean[];
  /** Blur σ per sample (0 = no blur). */
  blurSigmas: number[];
  /** Colour factors per sample (1 = unchanged). */
  brightness: Float32Array;
  contrast: Float32Array;
  saturation: Float32Array;
  /** 1 where the view is turned grayscale. */
  grayscale: Float32Array;
  /** Noise values (σ·N(0,1)), or null. */
  noise: Float32Array | null;
}

/** torchvision's RandomResizedCrop.get_params: 10 tries at a random area and aspect ratio, else a central crop. */
export function randomCropBox(h: number, w: number, scale: [number, number], ratio: [number, number], rng: Rng): CropBox {
  const area = h * w;
  const logRatio = [Math.log(ratio[0]), Math.log(ratio[1])] as const;
  for (let attempt = 0; attempt < 10; attempt++) {
    const targetArea = area * rng.uniform(scale[0], scale[1]);
    const aspect = Math.exp(rng.uniform(logRatio[0], logRatio[1]));
    const cw = Math.round(Math.sqrt(targetArea * aspect));
    const ch = Math.round(Math.sqrt(targetArea / aspect));
    if (cw > 0 && cw <= w && ch > 0 && ch <= h) {
      return { top: rng.int(h - ch + 1), left: rng.int(w - cw + 1), height: ch, width: cw };
    }
  }
  const inRatio = w / h;
  let cw: number;
  let ch: number;
  if (inRatio < Math.min(...ratio)) {
    cw = w;
    ch = Math.round(cw / Math.min(...ratio));
  } else if (inRatio > Math.max(...ratio)) {
    ch = h;
    cw = Math.round(ch * Math.max(...ratio));
  } else {
    cw = w;
    ch = h;
  }
  return { top: Math.floor((h - ch) / 2), left: Math.floor((w - cw) / 2), height: ch, width: cw };
}

/**
 * The (out × inSize) matrix of bilinear resampling of the segment
 * [start, start+length) to `out` samples, half-pixel centres and edge clamping
 * as PyTorch's interpolate(mode='bilinear', align_corners=False).
 */
export function resizeMatrix(out: number, inSize: number, start: number, length: number): Float32Array {
  const m = new Float32Array(out * inSize);
  const scale = length / out;
  for (let i = 0; i < out; i++) {
    const src = Math.max(0, (i + 0.5) * scale - 0.5);
    const i0 = Math.min(Math.floor(src), length - 1);
    const i1 = i0 < length - 1 ? i0 + 1 : i0;
    const l1 = src - i0;
    m[i * inSize + start + i0] += 1 - l1;
    m[i * inSize + start + i1] += l1;
  }
  return m;
}

/** The (size × size) matrix of a 1-D Gaussian blur with reflect padding (radius ⌈3σ⌉, at most size−1). */
export function gaussianMatrix(size: number, sigma: number): Float32Array {
  const m = new Float32Array(size * size);
  const r = Math.max(0, Math.min(size - 1, Math.ceil(3 * sigma)));
  const g: number[] = [];
  for (let k = -r; k <= r; k++) g.push(Math.exp(-(k * k) / (2 * sigma * sigma)));
  const total = g.reduce((a, b) => a + b, 0);
  const reflect = (i: number) => (i < 0 ? -i : i >= size ? 2 * (size - 1) - i : i);
  for (let i = 0; i < size; i++) for (let k = -r; k <= r; k++) m[i * size + reflect(i + k)] += g[k + r]! / total;
  return m;
}

/** a (p × q) · b (q × r) for row-major Float32Arrays. */
function matMulCpu(a: Float32Array, b: Float32Array, p: number, q: number, r: number): Float32Array {
  const out = new Float32Array(p * r);
  for (let i = 0; i < p; i++)
    for (let k = 0; k < q; k++) {
      const v = a[i * q + k]!;
      if (v === 0) continue;
      for (let j = 0; j < r; j++) out[i * r + j] += v * b[k * r + j]!;
    }
  return out;
}

function reverseRows(m: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(m.length);
  for (let i = 0; i < rows; i++) out.set(m.subarray((rows - 1 - i) * cols, (rows - i) * cols), i * cols);
  return out;
}

/** Draws the random choices for n views of h×w×c images, in a fixed order per sample. */
export function drawSslAugmentParams(n: number, h: number, w: number, c: number, cfg: SslAugmentConfig, rng: Rng): SslAugmentParams {
  const p: SslAugmentParams = {
    boxes: [],
    flips: [],
    blurSigmas: [],
    brightness: new Float32Array(n).fill(1),
    contrast: new Float32Array(n).fill(1),
    saturation: new Float32Array(n).fill(1),
    grayscale: new Float32Array(n),
    noise: null,
  };
  for (let i = 0; i < n; i++) {
    p.boxes.push(randomCropBox(h, w, cfg.cropScale, cfg.cropRatio, rng));
    p.flips.push(cfg.flip && rng.next() < 0.5);
    if (rng.next() < cfg.jitterProb) {
      if (cfg.brightness > 0) p.brightness[i] = rng.uniform(Math.max(0, 1 - cfg.brightness), 1 + cfg.brightness);
      if (cfg.contrast > 0) p.contrast[i] = rng.uniform(Math.max(0, 1 - cfg.contrast), 1 + cfg.contrast);
      if (c === 3 && cfg.saturation > 0) p.saturation[i] = rng.uniform(Math.max(0, 1 - cfg.saturation), 1 + cfg.saturation);
    }
    if (c === 3 && rng.next() < cfg.grayscaleProb) p.grayscale[i] = 1;
    p.blurSigmas.push(rng.next() < cfg.blurProb ? rng.uniform(cfg.blurSigma[0], cfg.blurSigma[1]) : 0);
  }
  if (cfg.noise > 0) {
    p.noise = new Float32Array(n * h * w * c);
    for (let i = 0; i < p.noise.length; i++) p.noise[i] = cfg.noise * rng.normal();
  }
  return p;
}

/** Per-sample row (h × H) and column (w × W) matrices of the geometric part; output size = input size. */
export function geometricMatrices(params: SslAugmentParams, h: number, w: number): { rows: Float32Array; cols: Float32Array } {
  const n = params.boxes.length;
  const rows = new Float32Array(n * h * h);
  const cols = new Float32Array(n * w * w);
  for (let s = 0; s < n; s++) {
    const box = params.boxes[s]!;
    let r = resizeMatrix(h, h, box.top, box.height);
    let c = resizeMatrix(w, w, box.left, box.width);
    if (params.flips[s]) c = reverseRows(c, w, w);
    const sigma = params.blurSigmas[s]!;
    if (sigma > 0) {
      r = matMulCpu(gaussianMatrix(h, sigma), r, h, h, h);
      c = matMulCpu(gaussianMatrix(w, sigma), c, w, w, w);
    }
    rows.set(r, s * h * h);
    cols.set(c, s * w * w);
  }
  return { rows, cols };
}

/** out[n] = R[n] · x[n] · C[n]ᵀ per channel, as two batched matMuls. */
export function applyGeometric(x: Tensor4D, rows: Float32Array, cols: Float32Array): Tensor4D {
  const [n, h, w, c] = x.shape;
  return tf.tidy(() => {
    const R = tf.tensor3d(rows, [n, h, h]);
    const Ct = tf.transpose(tf.tensor3d(cols, [n, w, w]), [0, 2, 1]); // [n, W, w]
    const r = tf.matMul(R, tf.reshape(x, [n, h, w * c]) as tf.Tensor3D); // [n, h, W·c]
    const rt = c === 1 ? tf.reshape(r, [n, h, w]) : tf.reshape(tf.transpose(tf.reshape(r, [n, h, w, c]), [0, 1, 3, 2]), [n, h * c, w]);
    const out = tf.matMul(rt as tf.Tensor3D, Ct as tf.Tensor3D); // [n, h·c, w]
    return (c === 1 ? tf.reshape(out, [n, h, w, 1]) : tf.transpose(tf.reshape(out, [n, h, c, w]), [0, 1, 3, 2])) as Tensor4D;
  });
}

/** ITU-R 601 luma (torchvision rgb_to_grayscale) with keepDims: [n,h,w,1]. */
function gray(x: Tensor): Tensor {
  if (x.shape[3] === 1) return x;
  return tf.sum(tf.mul(x, tf.tensor1d([0.299, 0.587, 0.114])), 3, true);
}

/** Colour jitter (brightness, contrast, saturation, each clipped), grayscale, noise. */
export function applyColour(x: Tensor4D, params: SslAugmentParams): Tensor4D {
  const n = x.shape[0];
  const c = x.shape[3];
  const per = (v: Float32Array) => tf.tensor4d(v, [n, 1, 1, 1]);
  return tf.tidy(() => {
    let y: Tensor = tf.clipByValue(tf.mul(x, per(params.brightness)), 0, 1);
    const cf = per(params.contrast);
    y = tf.clipByValue(tf.add(tf.mul(y, cf), tf.mul(tf.sub(1, cf), tf.mean(gray(y), [1, 2, 3], true))), 0, 1);
    if (c === 3) {
      const sf = per(params.saturation);
      y = tf.clipByValue(tf.add(tf.mul(y, sf), tf.mul(tf.sub(1, sf), gray(y))), 0, 1);
      const g = per(params.grayscale);
      y = tf.add(tf.mul(y, tf.sub(1, g)), tf.mul(gray(y), g));
    }
    if (params.noise) y = tf.clipByValue(tf.add(y, tf.tensor(params.noise, x.shape)), 0, 1);
    return y as Tensor4D;
  });
}

/** Applies already-drawn parameters (for tests and for attacks that need the same views twice). */
export function sslAugmentWith(x: Tensor4D, params: SslAugmentParams): Tensor4D {
  const [, h, w] = x.shape;
  return tf.tidy(() => {
    const { rows, cols } = geometricMatrices(params, h, w);
    return applyColour(applyGeometric(x, rows, cols), params);
  });
}

/** One random view of every image in the batch. */
export function sslAugment(x: Tensor4D, cfg: SslAugmentConfig, rng: Rng): Tensor4D {
  const [n, h, w, c] = x.shape;
  return sslAugmentWith(x, drawSslAugmentParams(n, h, w, c, cfg, rng));
}
