import { z } from 'zod';
import { getAttack, listAttacks } from '../registry.js';

/**
 * One attack entry of a T1 spec's `t1.attacks` list:
 *
 *   - name: ft                 # a registered T1 attack
 *     label: ft-decoder        # optional: how the runs are named in results (default: name)
 *     inversion: {method: decoder}   # …every other key is an option of the attack
 *
 * The budget ε is not an option here: it comes from `t1.epsilons`, and the
 * victim's λ from `t1.probe`. Options are validated by the attack's strict
 * configSchema (with a placeholder ε) and stored with every default filled in.
 */
export const T1AttackEntrySchema = z
  .looseObject({
    name: z.string({ error: 'expected an attack name' }).describe('A T1 attack (see `hemlock list`).'),
    label: z.string().regex(/^[A-Za-z0-9._+-]+$/, { error: 'expected letters, digits, . _ + - only' }).optional(),
  })
  .transform((v, ctx) => {
    const { name, label, ...options } = v;
    const t1Names = () => listAttacks().filter((a) => a.capabilities.threatModel === 'T1').map((a) => a.name).join(', ');
    let attack;
    try {
      attack = getAttack(name);
    } catch {
      ctx.addIssue({ code: 'custom', path: ['name'], message: `unknown attack '${name}' (T1 attacks: ${t1Names()})`, input: name });
      return z.NEVER;
    }
    if (attack.info.capabilities.threatModel !== 'T1') {
      ctx.addIssue({ code: 'custom', path: ['name'], message: `'${name}' is a ${attack.info.capabilities.threatModel} attack, not T1 (T1 attacks: ${t1Names()})`, input: name });
      return z.NEVER;
    }
    for (const key of ['epsilon', 'victim']) {
      if (key in options) {
        ctx.addIssue({ code: 'custom', path: [key], message: key === 'epsilon' ? 'set the budgets in t1.epsilons' : "set the victim's λ in t1.probe.l2", input: options[key] });
        return z.NEVER;
      }
    }
    const r = attack.configSchema.safeParse({ ...options, epsilon: 0.01 });
    if (!r.success) {
      for (const issue of r.error.issues) {
        ctx.addIssue({ code: 'custom', path: issue.path as (string | number)[], message: issue.message, input: (issue as { input?: unknown }).input });
      }
      return z.NEVER;
    }
    const { epsilon: _e, victim: _v, ...resolved } = r.data as Record<string, unknown>;
    return { name, label: label ?? name, options: resolved };
  });

export type T1AttackEntry = z.output<typeof T1AttackEntrySchema>;
