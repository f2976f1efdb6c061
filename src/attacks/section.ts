import { z } from 'zod';
import { BACKDOOR_ATTACKS, getAttack, listAttacks } from './registry.js';

/**
 * The optional `attack` section of an experiment spec:
 *
 *   attack:
 *     name: witches-brew          # any registered attack
 *     evaluation: {setups: 10, retrainings: 4, baseline: random-noise}
 *     epsilon: 0.0627             # …every other key is an option of the attack,
 *     steps: 250                  #    validated by that attack's strict configSchema
 *
 * Parsing resolves it to {name, evaluation, options} with every default of the
 * attack filled in, so the stored spec says exactly what ran. Errors carry the
 * path of the offending option (e.g. `attack.steps`).
 */
const positiveInt = () =>
  z.number({ error: 'expected a positive integer' }).int({ error: 'expected a positive integer' }).positive({ error: 'expected a positive integer' });

export const AttackEvaluationSchema = z
  .strictObject({
    setups: positiveInt().default(10).describe('Number of (target, adversarial class) setups, each crafted with its own seed.'),
    retrainings: positiveInt().default(4).describe('Victims retrained from scratch per setup.'),
    baseline: z.enum(['random-noise', 'none'], { error: "expected 'random-noise' or 'none'" }).default('random-noise')
      .describe('Also evaluate the same setups poisoned with random ℓ∞ noise of the same budget.'),
    baselineRetrainings: positiveInt().optional().describe('Victims per setup for the baseline (default: retrainings).'),
  })
  .describe('How a T4 attack is measured.');

export const AttackSectionSchema = z
  .looseObject({
    name: z.string({ error: 'expected an attack name' }).describe(`Attack name (${listAttacks().map((a) => a.name).join(', ')}).`),
    evaluation: AttackEvaluationSchema.default({ setups: 10, retrainings: 4, baseline: 'random-noise' }),
  })
  .transform((v, ctx) => {
    const { name, evaluation, ...options } = v;
    let attack;
    try {
      attack = getAttack(name);
    } catch {
      ctx.addIssue({ code: 'custom', path: ['name'], message: `unknown attack '${name}' (known: ${listAttacks().map((a) => a.name).join(', ')})`, input: name });
      return z.NEVER;
    }
    if (BACKDOOR_ATTACKS.includes(name)) {
      ctx.addIssue({ code: 'custom', path: ['name'], message: `'${name}' is a backdoor attack: put it in the backdoor section (backdoor.attack), which measures attack success on triggered inputs`, input: name });
      return z.NEVER;
    }
    const r = attack.configSchema.safeParse(options);
    if (!r.success) {
      for (const issue of r.error.issues) {
        ctx.addIssue({ code: 'custom', path: issue.path as PropertyKey[] as (string | number)[], message: issue.message, input: (issue as { input?: unknown }).input });
      }
      return z.NEVER;
    }
    return { name, evaluation, options: r.data as Record<string, unknown> };
  })
  .describe('Optional: run a data-poisoning attack instead of plain training (T4: witches-brew).');

export type AttackSection = z.output<typeof AttackSectionSchema>;
