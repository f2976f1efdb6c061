import { existsSync, readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { HemlockInputError } from '../engine/errors.js';
import { ExperimentSchema, type Experiment } from './schema.js';

function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

function formatPath(path: PropertyKey[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i ? '.' : ''}${String(p)}`)).join('') || '(root)';
}

/** One issue as `train.epochs: expected positive integer, got -3`. */
export function formatIssue(issue: z.core.$ZodIssue): string {
  const where = formatPath(issue.path);
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys.map((k) => `'${k}'`).join(', ');
    return `${where === '(root)' ? '' : where + ': '}unknown key${issue.keys.length > 1 ? 's' : ''} ${keys}`;
  }
  const got = 'input' in issue ? `, got ${describeValue(issue.input)}` : '';
  return `${where}: ${issue.message}${got}`;
}

/** Validates a parsed spec object; `source` names the file (or flags) in errors. */
export function validateExperiment(raw: unknown, source: string): Experiment {
  const result = ExperimentSchema.safeParse(raw, { reportInput: true });
  if (!result.success) {
    const issues = result.error.issues.map(formatIssue);
    throw new HemlockInputError(`${source}: ${issues.join('; ')}`);
  }
  return result.data;
}

/** Reads a YAML or JSON spec file. */
export function readSpecFile(path: string): unknown {
  if (!existsSync(path)) throw new HemlockInputError(`${path}: spec file not found`);
  const text = readFileSync(path, 'utf8');
  try {
    return extname(path).toLowerCase() === '.json' ? JSON.parse(text) : parseYaml(text);
  } catch (e) {
    const msg = (e as Error).message.split('\n')[0];
    throw new HemlockInputError(`${path}: not valid ${extname(path).toLowerCase() === '.json' ? 'JSON' : 'YAML'} (${msg})`);
  }
}

export function loadExperiment(path: string): Experiment {
  return validateExperiment(readSpecFile(path), path);
}
