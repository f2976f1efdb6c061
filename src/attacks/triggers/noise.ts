import { z } from 'zod';
import { Rng } from '../../engine/rng.js';
import { checkShape, clip01 } from './shape.js';
import type { ImageShape, Trigger } from './types.js';

/**
 * Noise trigger: one fixed additive pattern δ (drawn from `seed`: uniform in
 * [−ε, ε], or Gaussian with σ = ε), added to every image and clipped to [0,1].
 */
export const NoiseTriggerSchema = z.strictObject({
  kind: z.literal('noise'),
  epsilon: z.number().gt(0).max(1).default(0.1).describe('Half-width of the uniform noise, or σ of the Gaussian noise.'),
  distribution: z.enum(['uniform', 'gaussian']).default('uniform'),
  seed: z.number().int().min(0).default(0).describe('Seed of the noise pattern.'),
});
export type NoiseTriggerConfig = z.output<typeof NoiseTriggerSchema>;

/** The additive noise pattern δ for an h×w×c image, HWC order. */
export function noisePattern(cfg: NoiseTriggerConfig, height: number, width: number, channels: number): Float32Array {
  const rng = new Rng(`trigger/noise/${cfg.seed}`);
  const e = cfg.epsilon;
  return Float32Array.from({ length: height * width * channels }, () => (cfg.distribution === 'uniform' ? rng.uniform(-e, e) : e * rng.normal()));
}

export function noiseTrigger(cfg: NoiseTriggerConfig): Trigger {
  return {
    name: `noise ${cfg.distribution} ε=${cfg.epsilon} (seed ${cfg.seed})`,
    apply(images: Float32Array, shape: ImageShape): Float32Array {
      checkShape('noise trigger', images, shape);
      const [n, h, w, c] = shape;
      const d = noisePattern(cfg, h, w, c);
      const size = h * w * c;
      const out = new Float32Array(images.length);
      for (let k = 0; k < n; k++) for (let i = 0; i < size; i++) out[k * size + i] = clip01(images[k * size + i]! + d[i]!);
      return out;
    },
  };
}
