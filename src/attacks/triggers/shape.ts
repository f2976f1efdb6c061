import { HemlockInputError } from '../../engine/errors.js';
import type { ImageShape } from './types.js';

/** Checks that `images` holds n·h·w·c values for positive integer dimensions. */
export function checkShape(what: string, images: Float32Array, shape: ImageShape): void {
  if (shape.length !== 4 || shape.some((v) => !Number.isInteger(v) || v < 0) || shape.slice(1).some((v) => v === 0)) {
    throw new HemlockInputError(`${what}: bad image shape [${shape.join(', ')}] (expected [n, height, width, channels])`);
  }
  const [n, h, w, c] = shape;
  if (images.length !== n * h * w * c) throw new HemlockInputError(`${what}: ${images.length} values for shape [${shape.join(', ')}]`);
}

export const clip01 = (v: number): number => (v < 0 ? 0 : v > 1 ? 1 : v);
