import { HemlockInputError } from '../engine/errors.js';
import type { DefenseInfo, DetectionDefense } from './types.js';
import { spectralSignatures } from './spectralSignatures.js';
import { activationClustering } from './activationClustering.js';

/** Every defense hemlock knows, by name; each in its own file, added here with one line. */
const DEFENSES: DetectionDefense[] = [
  spectralSignatures,
  activationClustering,
];

export function listDefenses(): DefenseInfo[] {
  return DEFENSES.map((d) => d.info);
}

export function getDefense(name: string): DetectionDefense {
  const d = DEFENSES.find((x) => x.info.name === name);
  if (!d) throw new HemlockInputError(`defense: unknown defense '${name}' (known: ${DEFENSES.map((x) => x.info.name).join(', ') || 'none'})`);
  return d;
}
