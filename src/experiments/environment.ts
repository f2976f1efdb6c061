import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cpus, platform, release, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tf } from '../engine/tf.js';
import type { BackendInfo } from '../engine/backend.js';

/** The repository / package root (two levels above src/experiments or dist/experiments). */
export const PACKAGE_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

function gitCommit(): string | null {
  if (!existsSync(join(PACKAGE_ROOT, '.git'))) return null;
  try {
    const commit = execFileSync('git', ['-C', PACKAGE_ROOT, 'rev-parse', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['-C', PACKAGE_ROOT, 'status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return dirty ? `${commit}+dirty` : commit;
  } catch {
    return null;
  }
}

export interface Environment {
  hemlock: string;
  gitCommit: string | null;
  node: string;
  tfjs: string;
  backend: BackendInfo;
  platform: string;
  cpu: string;
  cores: number;
  memoryGiB: number;
}

/** What a run record says about where and with what it ran. */
export function describeEnvironment(backend: BackendInfo): Environment {
  const c = cpus();
  return {
    hemlock: packageVersion(),
    gitCommit: gitCommit(),
    node: process.version,
    tfjs: tf.version_core,
    backend,
    platform: `${platform()} ${release()}`,
    cpu: c[0]?.model ?? 'unknown',
    cores: c.length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
  };
}
