import { mkdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { HemlockInputError } from '../engine/errors.js';
import { writeJsonAtomic } from '../engine/files.js';
import { canonicalJson, specHash } from './records.js';
import { ResultsDb } from './resultsDb.js';
import type { Experiment } from './schema.js';
import { formatIssue, readSpecFile, validateExperiment } from './spec.js';
import { indexRunFolder, isRunComplete, readRunFolder, runDirFor, SWEEPS_DIR } from './store.js';
import { AXIS_PATH, SweepSchema, type Sweep } from './sweepSchema.js';
import { InProcessExecutor } from './executors/inProcess.js';
import type { Executor, RunJob, RunOutcome } from './executors/types.js';

/** Expanding more runs than this is almost certainly a mistake in the spec. */
export const MAX_RUNS = 100_000;

export interface ExpandedRun {
  /** Content hash of the resolved spec (specHash): the run's id and folder name. */
  id: string;
  /** Position in the expansion (0-based). */
  index: number;
  /** The axis values of this run, by dotted path. */
  params: Record<string, unknown>;
  /** The resolved experiment (every default filled in). */
  spec: Experiment;
}

export interface ExpandedSweep {
  /** Hash of the normalised sweep spec. */
  id: string;
  name: string;
  spec: Sweep;
  /** Distinct runs, in expansion order. */
  runs: ExpandedRun[];
  /** Axis combinations before removing those that resolve to the same spec. */
  combinations: number;
  /** Combinations that resolved to the spec of an earlier one (run once, listed once). */
  duplicates: { index: number; params: Record<string, unknown>; sameAs: string }[];
}

/** Validates a parsed sweep object; `source` names the file in errors. */
export function validateSweep(raw: unknown, source: string): Sweep {
  // Axis names first, for a clearer message than the schema's "invalid key".
  if (raw && typeof raw === 'object') {
    const r = raw as { grid?: unknown; zip?: unknown };
    const groups: [string, unknown][] = [['grid', r.grid], ...(Array.isArray(r.zip) ? r.zip.map((g, i) => [`zip[${i}]`, g] as [string, unknown]) : [])];
    for (const [where, g] of groups) {
      if (!g || typeof g !== 'object' || Array.isArray(g)) continue;
      for (const k of Object.keys(g)) {
        if (!AXIS_PATH.test(k)) throw new HemlockInputError(`${source}: ${where}: '${k}' is not an axis (expected a dotted path such as train.epochs)`);
      }
    }
  }
  const result = SweepSchema.safeParse(raw, { reportInput: true });
  if (!result.success) throw new HemlockInputError(`${source}: ${result.error.issues.map(formatIssue).join('; ')}`);
  return result.data;
}

export function loadSweep(path: string): Sweep {
  return validateSweep(readSpecFile(path), path);
}

/** The value at a dotted path (undefined when absent). */
export function getPath(obj: unknown, path: string): unknown {
  let o: unknown = obj;
  for (const k of path.split('.')) {
    if (o === null || typeof o !== 'object') return undefined;
    o = (o as Record<string, unknown>)[k];
  }
  return o;
}

/** Sets a dotted path, creating objects on the way; `where` names the axis in errors. */
export function setPath(obj: Record<string, unknown>, path: string, value: unknown, where = path): void {
  const keys = path.split('.');
  let o: Record<string, unknown> | unknown[] = obj;
  keys.forEach((k, i) => {
    const last = i === keys.length - 1;
    if (Array.isArray(o)) {
      const idx = Number(k);
      if (!Number.isInteger(idx) || idx < 0 || idx >= o.length) {
        throw new HemlockInputError(`${where}: '${keys.slice(0, i).join('.')}' is a list of ${o.length}; '${k}' is not an index in it`);
      }
      if (last) o[idx] = value;
      else o = descend(o[idx], keys.slice(0, i + 1).join('.'), where, (v) => ((o as unknown[])[idx] = v));
    } else {
      if (last) o[k] = value;
      else o = descend(o[k], keys.slice(0, i + 1).join('.'), where, (v) => ((o as Record<string, unknown>)[k] = v));
    }
  });
}

function descend(v: unknown, at: string, where: string, create: (v: object) => void): Record<string, unknown> | unknown[] {
  if (v === undefined || v === null) {
    const fresh = {};
    create(fresh);
    return fresh;
  }
  if (typeof v !== 'object') throw new HemlockInputError(`${where}: '${at}' is ${JSON.stringify(v)} in the base experiment, not an object`);
  return v as Record<string, unknown>;
}

function describeParams(params: Record<string, unknown>): string {
  const parts = Object.entries(params).map(([k, v]) => {
    const s = JSON.stringify(v) ?? String(v);
    return `${k}=${s.length > 30 ? `${s.slice(0, 27)}...` : s}`;
  });
  return parts.length ? `{${parts.join(', ')}}` : '{}';
}

/**
 * Expands a sweep into its runs: the grid axes crossed (the first axis varies
 * slowest), crossed with each zip group (its axes advancing together). Every
 * run is validated as a full experiment — an invalid combination is a bad-input
 * error naming the sweep file, the combination and the field — and identified
 * by the hash of its resolved spec; combinations that resolve to the same spec
 * are one run.
 */
export function expandSweep(sweep: Sweep, source = 'sweep'): ExpandedSweep {
  type Factor = { paths: string[]; options: Record<string, unknown>[] };
  const factors: Factor[] = [];
  for (const [path, values] of Object.entries(sweep.grid)) {
    factors.push({ paths: [path], options: values.map((v) => ({ [path]: v })) });
  }
  sweep.zip.forEach((group) => {
    const entries = Object.entries(group);
    const n = entries[0]?.[1].length ?? 0;
    factors.push({ paths: entries.map(([p]) => p), options: Array.from({ length: n }, (_, i) => Object.fromEntries(entries.map(([p, vs]) => [p, vs[i]]))) });
  });

  // An axis may appear once, and never beside one of its own prefixes (train + train.epochs).
  const allPaths = factors.flatMap((f) => f.paths);
  const seen = new Set<string>();
  for (const p of allPaths) {
    if (seen.has(p)) throw new HemlockInputError(`${source}: axis '${p}' appears more than once (grid and zip axes must be distinct)`);
    seen.add(p);
  }
  for (const a of allPaths) {
    for (const b of allPaths) {
      if (a !== b && b.startsWith(`${a}.`)) throw new HemlockInputError(`${source}: axes '${a}' and '${b}' overlap (one sets part of the other)`);
    }
  }

  const combinations = factors.reduce((n, f) => n * f.options.length, 1);
  if (combinations > MAX_RUNS) throw new HemlockInputError(`${source}: the axes make ${combinations} runs (more than ${MAX_RUNS})`);

  const runs: ExpandedRun[] = [];
  const duplicates: ExpandedSweep['duplicates'] = [];
  const byId = new Map<string, ExpandedRun>();
  for (let index = 0; index < combinations; index++) {
    // Mixed-radix decomposition of the index, last factor fastest.
    const params: Record<string, unknown> = {};
    let rest = index;
    const picks: Record<string, unknown>[] = [];
    for (let f = factors.length - 1; f >= 0; f--) {
      const n = factors[f]!.options.length;
      picks[f] = factors[f]!.options[rest % n]!;
      rest = Math.floor(rest / n);
    }
    for (const pick of picks) Object.assign(params, pick);
    const raw = structuredClone(sweep.base);
    if (raw.name === undefined) raw.name = sweep.name;
    for (const [path, value] of Object.entries(params)) setPath(raw, path, structuredClone(value), `${source}: axis '${path}'`);
    const spec = validateExperiment(raw, `${source} run ${index + 1} ${describeParams(params)}`);
    const id = specHash(spec);
    const earlier = byId.get(id);
    if (earlier) {
      duplicates.push({ index, params, sameAs: earlier.id });
      continue;
    }
    const run: ExpandedRun = { id, index, params, spec };
    byId.set(id, run);
    runs.push(run);
  }
  const id = specHash({ kind: 'sweep', spec: JSON.parse(canonicalJson(sweep)) });
  return { id, name: sweep.name, spec: sweep, runs, combinations, duplicates };
}

export interface SweepSummary {
  /** Distinct runs in the sweep. */
  runs: number;
  /** Runs that completed during this invocation. */
  completed: number;
  /** Runs that failed during this invocation (they are retried by the next one). */
  failed: number;
  /** Runs already complete in the store when this invocation started (not redone). */
  skipped: number;
}

export type SweepEvent =
  | { type: 'start'; runId: string; worker: string | null; params: Record<string, unknown> }
  | { type: 'done'; runId: string; outcome: RunOutcome; params: Record<string, unknown>; metrics?: Record<string, unknown>; finished: number; pending: number };

export interface RunSweepOptions {
  /** The store directory: run folders, results index, sweep specs. */
  store: string;
  /** Default: in-process. */
  executor?: Executor;
  /** Per-run timeout (ms). */
  timeoutMs?: number;
  onEvent?: (e: SweepEvent) => void;
  onLog?: (runId: string, line: string) => void;
  /** Called once the pending runs are known, before any runs. */
  onPlan?: (plan: { total: number; skipped: number; pending: number }) => void;
}

/**
 * Runs a sweep into a store, resumably: runs already complete in the store
 * are skipped (and indexed if the index missed them), the others are handed to
 * the executor, and each result is recorded in the index as it arrives. Killing
 * this at any moment and running it again finishes the sweep: nothing complete
 * is redone, partial run folders are resumed (never taken for results), and
 * every index write is an idempotent upsert keyed by run id.
 */
export async function runSweep(sweep: ExpandedSweep, opts: RunSweepOptions): Promise<SweepSummary> {
  const store = opts.store;
  mkdirSync(join(store, SWEEPS_DIR), { recursive: true });
  await writeJsonAtomic(join(store, SWEEPS_DIR, `${sweep.id}.json`), {
    id: sweep.id,
    name: sweep.name,
    spec: sweep.spec,
    runs: sweep.runs.map((r) => ({ id: r.id, params: r.params })),
  });
  const db = ResultsDb.open(store);
  try {
    db.upsertSweep({ id: sweep.id, name: sweep.name, spec: sweep.spec, runCount: sweep.runs.length });
    const byId = new Map(sweep.runs.map((r) => [r.id, r]));
    const pending: RunJob[] = [];
    let skipped = 0;
    for (const r of sweep.runs) {
      const complete = indexRunFolder(db, store, { id: r.id, name: r.spec.name, spec: r.spec, params: r.params });
      if (complete) skipped++;
      else pending.push({ runId: r.id, spec: r.spec, params: r.params, ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}) });
    }
    db.linkSweepRuns(sweep.id, sweep.runs);
    opts.onPlan?.({ total: sweep.runs.length, skipped, pending: pending.length });

    let completed = 0;
    let failed = 0;
    const executor = opts.executor ?? new InProcessExecutor();
    await executor.run(pending, store, {
      onStart: (runId, worker) => {
        db.markRunning(runId, worker);
        opts.onEvent?.({ type: 'start', runId, worker, params: byId.get(runId)?.params ?? {} });
      },
      onDone: (outcome) => {
        const r = byId.get(outcome.runId);
        if (!r) return;
        const runDir = runDirFor(store, r.id);
        let metrics: Record<string, unknown> | undefined;
        if (outcome.status === 'completed' && isRunComplete(runDir)) {
          indexRunFolder(db, store, { id: r.id, name: r.spec.name, spec: r.spec, params: r.params });
          metrics = readRunFolder(runDir).metrics;
          completed++;
        } else {
          const error = outcome.status === 'completed' ? `reported complete, but ${relative(process.cwd(), runDir) || runDir}/metrics.json is missing` : (outcome.error ?? 'failed');
          outcome = { ...outcome, status: 'failed', error };
          db.recordFailed(r.id, error, outcome.worker ?? null);
          failed++;
        }
        opts.onEvent?.({
          type: 'done',
          runId: r.id,
          outcome,
          params: r.params,
          ...(metrics ? { metrics } : {}),
          finished: skipped + completed + failed,
          pending: sweep.runs.length - skipped - completed - failed,
        });
      },
      ...(opts.onLog ? { onLog: opts.onLog } : {}),
    });
    return { runs: sweep.runs.length, completed, failed, skipped };
  } finally {
    db.close();
  }
}
