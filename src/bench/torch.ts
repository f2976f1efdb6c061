import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../experiments/environment.js';

/** The PyTorch reference script shipped beside the repository (../shared/bench). */
export const TORCH_REFERENCE = join(PACKAGE_ROOT, '..', 'shared', 'bench', 'torch_reference.py');

/**
 * A python that can import torch: the first `python3` on PATH, else Debian's
 * /usr/bin/python3 (Debian's python3-torch is installed for that interpreter).
 */
export function findTorchPython(): string | null {
  for (const py of ['python3', '/usr/bin/python3']) {
    const r = spawnSync(py, ['-c', 'import torch'], { stdio: 'ignore' });
    if (r.status === 0) return py;
  }
  return null;
}

export interface TorchReference {
  torch: string;
  threads: number;
  results: Partial<Record<'W1' | 'W2' | 'W3' | 'W4' | 'W5', number>>;
}

/** Runs torch_reference.py --json for the given workloads; null when torch or the script is missing. */
export function runTorchReference(ids: string[], threads: number): TorchReference | null {
  const py = findTorchPython();
  if (!py || !existsSync(TORCH_REFERENCE)) return null;
  const results: TorchReference['results'] = {};
  let version = 'unknown';
  for (const id of ids) {
    // One process per workload, as `--only` selects by prefix.
    const stdout = execFileSync(py, [TORCH_REFERENCE, '--json', '--threads', String(threads), '--only', `${id} `], { encoding: 'utf8', maxBuffer: 1 << 20 });
    const last = stdout.trim().split('\n').at(-1)!;
    const parsed = JSON.parse(last) as { torch: string; results: Record<string, number> };
    version = parsed.torch;
    for (const [name, value] of Object.entries(parsed.results)) results[name.split(' ')[0] as keyof TorchReference['results']] = value;
  }
  return { torch: version, threads, results };
}
