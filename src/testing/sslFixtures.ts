import { Rng } from '../engine/rng.js';
import type { ImageArrays } from '../train/batches.js';

/**
 * A tiny task for SSL tests: each image holds one shape — 0 a filled square,
 * 1 a square outline, 2 a plus sign — of random size (5–8 px) at a random
 * position, with random foreground/background gray levels and pixel noise.
 * The class (the shape) is what survives SSL augmentations (crops, flips,
 * jitter); position, size and gray levels change from view to view. Small
 * enough that a few dozen pre-training steps of a tiny ConvNet-S take seconds.
 */
export function syntheticShapes(n: number, opts: { size?: number; seed?: number } = {}): ImageArrays & { numClasses: number } {
  const size = opts.size ?? 16;
  const classes = 3;
  const rng = new Rng(`shapes/${opts.seed ?? 0}`);
  const images = new Float32Array(n * size * size);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const y = i % classes;
    labels[i] = y;
    const s = 5 + rng.int(4);
    const top = rng.int(size - s + 1);
    const left = rng.int(size - s + 1);
    const bg = rng.uniform(0, 0.3);
    const fg = rng.uniform(0.6, 1);
    const mid = (s - 1) / 2;
    for (let r = 0; r < size; r++)
      for (let c = 0; c < size; c++) {
        const a = r - top;
        const b = c - left;
        let on = false;
        if (a >= 0 && a < s && b >= 0 && b < s) {
          if (y === 0) on = true;
          else if (y === 1) on = a === 0 || b === 0 || a === s - 1 || b === s - 1;
          else on = Math.abs(a - mid) < 1 || Math.abs(b - mid) < 1;
        }
        images[(i * size + r) * size + c] = Math.min(1, Math.max(0, (on ? fg : bg) + 0.05 * rng.normal()));
      }
  }
  return { images, labels, height: size, width: size, channels: 1, numClasses: classes };
}

/** Plain-JS random matrix (rows × cols) with entries N(0,1), for loss references. */
export function randomMatrix(rows: number, cols: number, seed: number): number[][] {
  const r = new Rng(`matrix/${seed}`);
  return Array.from({ length: rows }, () => Array.from({ length: cols }, () => r.normal()));
}
