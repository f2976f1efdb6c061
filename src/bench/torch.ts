import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
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

/**
 * Runs torch_reference.py's workloads timed by CPU time on 1 thread
 * (time.process_time instead of perf_counter), the counterpart of
 * `timeWorkload(w, 'cpu')` with HEMLOCK_THREADS=1.
 */
const CPU_TIME_RUNNER = `
import sys, time, json
sys.path.insert(0, sys.argv[1])
import torch, torch_reference as tr
torch.set_num_threads(1); torch.manual_seed(0)
def timed(fn, warmup=2, reps=5):
    for _ in range(warmup): fn()
    ts = []
    for _ in range(reps):
        t0 = time.process_time(); fn(); ts.append(time.process_time() - t0)
    ts.sort(); return ts[len(ts) // 2]
tr.timed = timed
out = {n: fn() for n, fn in tr.WORKLOADS.items() if n.split(' ')[0] in sys.argv[2].split(',')}
print(json.dumps({'torch': torch.__version__, 'threads': 1, 'results': out}))
`;

/** Runs torch_reference.py --json for the given workloads; null when torch or the script is missing. */
export function runTorchReference(ids: string[], threads: number, clock: 'wall' | 'cpu' = 'wall'): TorchReference | null {
  const py = findTorchPython();
  if (!py || !existsSync(TORCH_REFERENCE)) return null;
  if (clock === 'cpu') {
    const stdout = execFileSync(py, ['-c', CPU_TIME_RUNNER, dirname(TORCH_REFERENCE), ids.join(',')], { encoding: 'utf8', maxBuffer: 1 << 20 });
    const parsed = JSON.parse(stdout.trim().split('\n').at(-1)!) as { torch: string; results: Record<string, number> };
    const results: TorchReference['results'] = {};
    for (const [name, value] of Object.entries(parsed.results)) results[name.split(' ')[0] as keyof TorchReference['results']] = value;
    return { torch: parsed.torch, threads: 1, results };
  }
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
