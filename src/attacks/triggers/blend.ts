import { z } from 'zod';
import { HemlockInputError } from '../../engine/errors.js';
import { Rng } from '../../engine/rng.js';
import { checkShape, clip01 } from './shape.js';
import type { ImageShape, Trigger } from './types.js';

/**
 * Blend trigger (Chen et al. 2017, "blended injection"): x' = (1−α)·x + α·p
 * for a fixed pattern p in [0,1]. `random`: p is uniform noise drawn from
 * `seed` (one value per pixel and channel, the same for every image); or p is
 * given as h·w·c values (HWC order) or h·w values (shared by the channels).
 */
export const BlendTriggerSchema = z.strictObject({
  kind: z.literal('blend'),
  alpha: z.number().gt(0).max(1).default(0.2).describe('Blend weight α of the pattern.'),
  pattern: z.union([z.literal('random'), z.array(z.number().min(0).max(1)).min(1)]).default('random')
    .describe("'random' (seeded uniform noise) or the pattern's pixel values, HWC order."),
  seed: z.number().int().min(0).default(0).describe('Seed of the random pattern.'),
});
export type BlendTriggerConfig = z.output<typeof BlendTriggerSchema>;

/** The blend pattern for an h×w×c image, HWC order. */
export function blendPattern(cfg: BlendTriggerConfig, height: number, width: number, channels: number): Float32Array {
  const size = height * width * channels;
  if (cfg.pattern === 'random') {
    const rng = new Rng(`trigger/blend/${cfg.seed}`);
    return Float32Array.from({ length: size }, () => rng.next());
  }
  const p = cfg.pattern;
  if (p.length === size) return Float32Array.from(p);
  if (p.length === height * width) return Float32Array.from({ length: size }, (_, i) => p[Math.floor(i / channels)]!);
  throw new HemlockInputError(`trigger.pattern: ${p.length} values for a ${height}×${width}×${channels} image (expected ${size} or ${height * width})`);
}

export function blendTrigger(cfg: BlendTriggerConfig): Trigger {
  return {
    name: `blend α=${cfg.alpha} with ${cfg.pattern === 'random' ? `random pattern (seed ${cfg.seed})` : 'a given pattern'}`,
    apply(images: Float32Array, shape: ImageShape): Float32Array {
      checkShape('blend trigger', images, shape);
      const [n, h, w, c] = shape;
      const p = blendPattern(cfg, h, w, c);
      const size = h * w * c;
      const a = cfg.alpha;
      const out = new Float32Array(images.length);
      for (let k = 0; k < n; k++) for (let i = 0; i < size; i++) out[k * size + i] = clip01((1 - a) * images[k * size + i]! + a * p[i]!);
      return out;
    },
  };
}
