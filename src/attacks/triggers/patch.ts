import { z } from 'zod';
import { HemlockInputError } from '../../engine/errors.js';
import { checkShape } from './shape.js';
import type { ImageShape, Trigger } from './types.js';

/**
 * Patch trigger (BadNets; the 3×3 checkerboard of the no-label backdoors):
 * replaces an s×s square of every channel by a pattern. `checkerboard`
 * alternates 1 and 0 starting with 1 at the patch's top-left pixel; `solid`
 * fills the square with `value`. Corner positions keep `margin` pixels from
 * the image edges; `center` puts the patch at floor((h−s)/2), floor((w−s)/2);
 * `[row, col]` gives the top-left pixel explicitly.
 */
export const PatchTriggerSchema = z.strictObject({
  kind: z.literal('patch'),
  size: z.number().int().positive().default(3).describe('Side s of the square patch, in pixels.'),
  pattern: z.enum(['checkerboard', 'solid']).default('checkerboard'),
  value: z.number().min(0).max(1).default(1).describe('Pixel value of a solid patch.'),
  position: z
    .union([z.enum(['bottom-right', 'bottom-left', 'top-right', 'top-left', 'center']), z.tuple([z.number().int().min(0), z.number().int().min(0)])])
    .default('bottom-right')
    .describe('A corner, the centre, or [row, col] of the top-left pixel.'),
  margin: z.number().int().min(0).default(1).describe('Distance in pixels from the image edges for corner positions.'),
});
export type PatchTriggerConfig = z.output<typeof PatchTriggerSchema>;

/** Top-left [row, col] of the patch in an h×w image (throws if it does not fit). */
export function patchOrigin(cfg: PatchTriggerConfig, height: number, width: number): [number, number] {
  const s = cfg.size;
  const m = cfg.margin;
  let rc: [number, number];
  switch (cfg.position) {
    case 'top-left': rc = [m, m]; break;
    case 'top-right': rc = [m, width - s - m]; break;
    case 'bottom-left': rc = [height - s - m, m]; break;
    case 'bottom-right': rc = [height - s - m, width - s - m]; break;
    case 'center': rc = [Math.floor((height - s) / 2), Math.floor((width - s) / 2)]; break;
    default: rc = cfg.position;
  }
  if (rc[0] < 0 || rc[1] < 0 || rc[0] + s > height || rc[1] + s > width) {
    throw new HemlockInputError(`trigger: a ${s}×${s} patch at ${JSON.stringify(cfg.position)} (margin ${m}) does not fit a ${height}×${width} image`);
  }
  return rc;
}

export function patchTrigger(cfg: PatchTriggerConfig): Trigger {
  const where = typeof cfg.position === 'string' ? cfg.position : `[${cfg.position.join(', ')}]`;
  return {
    name: `patch ${cfg.size}×${cfg.size} ${cfg.pattern} at ${where}`,
    apply(images: Float32Array, shape: ImageShape): Float32Array {
      checkShape('patch trigger', images, shape);
      const [n, h, w, c] = shape;
      const [r0, c0] = patchOrigin(cfg, h, w);
      const out = Float32Array.from(images);
      const s = cfg.size;
      for (let k = 0; k < n; k++)
        for (let i = 0; i < s; i++)
          for (let j = 0; j < s; j++) {
            const v = cfg.pattern === 'solid' ? cfg.value : (i + j) % 2 === 0 ? 1 : 0;
            const base = ((k * h + r0 + i) * w + c0 + j) * c;
            for (let ch = 0; ch < c; ch++) out[base + ch] = v;
          }
      return out;
    },
  };
}
