import { HemlockInputError } from '../engine/errors.js';
import type { Attack, AttackInfo } from './types.js';
import { randomNoise, witchesBrew } from './witchesBrew.js';
import { labelFlipRandomAttack, labelFlipWorstAttack } from './labelFlip.js';
import { gcFeatureAttack } from './gradientCanceling.js';
import { featureTargetedAttack } from './featureTargeted.js';
import { inputSpaceGCAttack } from './inputSpaceGC.js';
import { badNetsAttack } from './badNets.js';

/**
 * Every attack hemlock knows, by name. Each lives in its own file and is added
 * here with one line.
 */
const ATTACKS: Attack[] = [
  witchesBrew,
  randomNoise,
  labelFlipRandomAttack,
  labelFlipWorstAttack,
  gcFeatureAttack,
  featureTargetedAttack,
  inputSpaceGCAttack,
  badNetsAttack,
];

export function listAttacks(): AttackInfo[] {
  return ATTACKS.map((a) => a.info);
}

export function getAttack(name: string): Attack {
  const a = ATTACKS.find((x) => x.info.name === name);
  if (!a) throw new HemlockInputError(`attack: unknown attack '${name}' (known: ${ATTACKS.map((x) => x.info.name).join(', ') || 'none'})`);
  return a;
}

/** Backdoor attacks (their result carries a trigger and a target class): specs use them in the `backdoor` section. */
export const BACKDOOR_ATTACKS: readonly string[] = ['badnets'];
