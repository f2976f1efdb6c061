import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '../engine/rng.js';
import { writeNpy } from '../data/npy.js';
import type { ImageArrays } from '../train/batches.js';

/**
 * A small synthetic image task for tests: each class is a bright bar at a
 * class-specific position on a noisy background. Learnable in a few steps by
 * any of the models, so a test can assert that training actually works.
 */
export function syntheticBars(n: number, opts: { size?: number; channels?: number; classes?: number; seed?: number } = {}): ImageArrays & { numClasses: number } {
  const size = opts.size ?? 12;
  const channels = opts.channels ?? 1;
  const classes = opts.classes ?? 3;
  const rng = new Rng(`synthetic/${opts.seed ?? 0}`);
  const images = new Float32Array(n * size * size * channels);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const y = i % classes;
    labels[i] = y;
    const row = Math.floor(((y + 0.5) * size) / classes);
    for (let r = 0; r < size; r++)
      for (let c = 0; c < size; c++)
        for (let ch = 0; ch < channels; ch++) {
          const bar = Math.abs(r - row) <= 1 ? 0.8 : 0;
          images[((i * size + r) * size + c) * channels + ch] = Math.min(1, Math.max(0, bar + 0.15 * rng.next()));
        }
  }
  return { images, labels, height: size, width: size, channels, numClasses: classes };
}

/**
 * A tiny NPY dataset directory (x_/y_train.npy: 60 images, x_/y_test.npy: 12;
 * 8×8 bars of 3 classes), the smallest data the T4 runner and CLI accept.
 */
export async function tinyBarsNpyDir(prefix: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  for (const [split, n, seed] of [['train', 60, 1], ['test', 12, 2]] as const) {
    const d = syntheticBars(n, { size: 8, classes: 3, seed });
    await writeNpy(join(dir, `x_${split}.npy`), { dtype: 'f4', shape: [n, 8, 8, 1], data: d.images });
    await writeNpy(join(dir, `y_${split}.npy`), { dtype: 'i8', shape: [n], data: d.labels });
  }
  return dir;
}
