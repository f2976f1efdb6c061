import { spawnSync } from 'node:child_process';
import { cpus, loadavg, totalmem } from 'node:os';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describeBackend, type BackendInfo } from '../engine/backend.js';
import { WORKLOADS, timeWorkload, type Workload } from './workloads.js';
import { runTorchReference } from './torch.js';

export type WorkloadId = Workload['id'];

export interface MachineInfo {
  cpu: string;
  logicalCores: number;
  memoryGiB: number;
  node: string;
  /** CPU flags that matter for SIMD kernels (from /proc/cpuinfo where available). */
  simd: string[];
}

export interface BenchRow {
  id: WorkloadId;
  unit: string;
  hemlock: number;
  torch?: number;
  ratio?: number;
  /** 1-minute load average just before hemlock's timing and just after torch's. */
  load: [number, number];
}

export interface BenchReport {
  machine: MachineInfo;
  backend: string;
  backendInfo: BackendInfo;
  torchVersion?: string;
  torchThreads?: number;
  /** 'wall': wall clock; 'cpu': CPU time on 1 thread, hemlock and PyTorch alike. */
  clock: 'wall' | 'cpu';
  rows: BenchRow[];
  /** Same workloads with HEMLOCK_THREADS=1 (separate process), when asked. */
  singleThread?: Partial<Record<WorkloadId, number>>;
}

export function describeMachine(): MachineInfo {
  const c = cpus();
  let simd: string[] = [];
  try {
    const flags = /^flags\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.split(/\s+/) ?? [];
    simd = ['sse4_2', 'avx', 'avx2', 'fma', 'avx512f', 'amx_tile'].filter((f) => flags.includes(f));
  } catch {
    // Not Linux: leave empty.
  }
  return {
    cpu: c[0]?.model.trim() ?? 'unknown',
    logicalCores: c.length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    simd,
  };
}

export function machineLine(m: MachineInfo): string {
  return `${m.cpu}, ${m.logicalCores} logical cores${m.simd.length ? ` (${m.simd.join(', ')})` : ''}, ${m.memoryGiB} GiB, Node ${m.node}`;
}

const BIN = fileURLToPath(new URL('../../bin/hemlock.js', import.meta.url));

/** Times `ids` in a child process with HEMLOCK_THREADS=1 (the backend is chosen once per process). */
export function timeSingleThreaded(ids: WorkloadId[]): Partial<Record<WorkloadId, number>> {
  const p = spawnSync(process.execPath, [BIN, 'bench', '--only', ids.join(','), '--no-torch', '--backend', 'wasm', '--json'], {
    env: { ...process.env, HEMLOCK_THREADS: '1' },
    encoding: 'utf8',
    maxBuffer: 1 << 24,
  });
  if (p.status !== 0) throw new Error(`single-threaded bench failed: ${p.stderr.trim().split('\n').at(-1)}`);
  const last = JSON.parse(p.stdout.trim().split('\n').at(-1)!) as { rows: BenchRow[] };
  return Object.fromEntries(last.rows.map((r) => [r.id, r.hemlock]));
}

/**
 * Times each workload in hemlock and, right after it, in PyTorch, so both see
 * about the same machine load (other jobs share the cores), and records the
 * load average around each pair.
 */
export async function runBench(opts: {
  ids: WorkloadId[];
  backend: BackendInfo;
  torch: boolean;
  torchThreads: number;
  singleThread: boolean;
  clock?: 'wall' | 'cpu';
  log: (line: string) => void;
}): Promise<BenchReport> {
  const clock = opts.clock ?? 'wall';
  const { log } = opts;
  const machine = describeMachine();
  log(`machine: ${machineLine(machine)}`);
  log(describeBackend(opts.backend));
  const rows: BenchRow[] = [];
  let torchVersion: string | undefined;
  let torchMissing = false;
  for (const w of WORKLOADS.filter((w) => opts.ids.includes(w.id))) {
    const before = loadavg()[0]!;
    log(`timing ${w.id} ${w.title} (load ${before.toFixed(2)}) ...`);
    const r = await timeWorkload(w, clock);
    log(`  ${w.id} hemlock: ${r.perSecond.toPrecision(4)} ${w.unit} (median of ${r.reps})`);
    const row: BenchRow = { id: w.id, unit: w.unit, hemlock: r.perSecond, load: [before, before] };
    if (opts.torch && !torchMissing) {
      const ref = runTorchReference([w.id], opts.torchThreads, clock);
      if (!ref) {
        torchMissing = true;
        log('PyTorch not found (apt-get install -y python3-torch libopenblas0-pthread): no ratios');
      } else {
        torchVersion = ref.torch;
        row.torch = ref.results[w.id];
        if (row.torch) {
          row.ratio = row.hemlock / row.torch;
          log(`  ${w.id} pytorch: ${row.torch.toPrecision(4)} ${w.unit}, ratio ${row.ratio.toFixed(3)}`);
        }
      }
    }
    row.load[1] = loadavg()[0]!;
    rows.push(row);
  }
  const report: BenchReport = {
    machine,
    backend: opts.backend.name,
    backendInfo: opts.backend,
    ...(torchVersion ? { torchVersion, torchThreads: clock === 'cpu' ? 1 : opts.torchThreads } : {}),
    clock,
    rows,
  };
  if (clock === 'wall' && opts.singleThread && opts.backend.name === 'wasm' && (opts.backend.wasmThreads ?? 1) > 1) {
    log('timing the same workloads single-threaded (HEMLOCK_THREADS=1) ...');
    report.singleThread = timeSingleThreaded(opts.ids);
  }
  return report;
}
