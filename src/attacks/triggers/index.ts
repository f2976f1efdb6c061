import { z } from 'zod';
import { HemlockInputError } from '../../engine/errors.js';
import { BlendTriggerSchema, blendTrigger } from './blend.js';
import { NoiseTriggerSchema, noiseTrigger } from './noise.js';
import { PatchTriggerSchema, patchTrigger } from './patch.js';
import type { Trigger } from './types.js';

export type { ImageShape, Trigger } from './types.js';
export { PatchTriggerSchema, patchTrigger, patchOrigin, type PatchTriggerConfig } from './patch.js';
export { BlendTriggerSchema, blendTrigger, blendPattern, type BlendTriggerConfig } from './blend.js';
export { NoiseTriggerSchema, noiseTrigger, noisePattern, type NoiseTriggerConfig } from './noise.js';

/** A trigger's config: `{kind: 'patch' | 'blend' | 'noise', ...options}`, every option defaulted. */
export const TriggerSchema = z.discriminatedUnion('kind', [PatchTriggerSchema, BlendTriggerSchema, NoiseTriggerSchema], {
  error: 'expected trigger kind patch, blend or noise',
});
export type TriggerConfig = z.output<typeof TriggerSchema>;
export type TriggerInput = z.input<typeof TriggerSchema>;

/**
 * Builds a trigger from its config (validated; defaults filled). Errors are
 * HemlockInputErrors naming the field under `where` (e.g. `trigger.size`).
 */
export function buildTrigger(config: TriggerInput | TriggerConfig, where = 'trigger'): Trigger {
  const r = TriggerSchema.safeParse(config);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new HemlockInputError(`${[where, ...issue.path.map(String)].join('.')}: ${issue.message}`);
  }
  const cfg = r.data;
  switch (cfg.kind) {
    case 'patch': return patchTrigger(cfg);
    case 'blend': return blendTrigger(cfg);
    case 'noise': return noiseTrigger(cfg);
  }
}
