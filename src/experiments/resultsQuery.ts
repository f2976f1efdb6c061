import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { HemlockInputError } from '../engine/errors.js';
import { meanCI } from '../eval/metrics.js';
import { DB_FILE, ResultsDb, type RunRow, type RunStatus, RUN_STATUSES } from './resultsDb.js';
import { findRunFolders, indexRunFolder, readRunFolder } from './store.js';
import { getPath } from './sweep.js';

/**
 * Queries over a store's results index: filters (`train.epochs=2`,
 * `testAccuracy>0.5`), grouping by axes, and aggregation across the rest
 * (mean ± 95% CI with meanCI, a t-interval over runs).
 */

export interface Filter {
  key: string;
  op: '=' | '!=' | '<' | '<=' | '>' | '>=';
  value: string;
}

/** Parses `key=value`, `key!=value`, `key>=x`, … */
export function parseFilter(expr: string): Filter {
  const m = /^\s*([A-Za-z0-9_.-]+)\s*(!=|<=|>=|=|<|>)\s*(.*?)\s*$/.exec(expr);
  if (!m) throw new HemlockInputError(`--where: '${expr}' is not a filter (expected key=value, key!=value, key<x, key>=x, …)`);
  return { key: m[1]!, op: m[2] as Filter['op'], value: m[3]! };
}

/** A field of a run by name: id, name, status, worker, error, then sweep axes, metrics, and dotted paths into the spec. */
export function fieldValue(run: RunRow, key: string): unknown {
  if (key === 'id' || key === 'name' || key === 'status' || key === 'worker' || key === 'error') return run[key];
  if (key in run.params) return run.params[key];
  if (key in run.metrics) return run.metrics[key];
  return getPath(run.spec, key);
}

function matches(run: RunRow, f: Filter): boolean {
  const v = fieldValue(run, f.key);
  if (f.op === '=' || f.op === '!=') {
    const s = typeof v === 'string' ? v : JSON.stringify(v);
    const eq = s === f.value || (typeof v === 'number' && Number(f.value) === v) || (v === undefined && f.value === '');
    return f.op === '=' ? eq : !eq;
  }
  const x = Number(f.value);
  if (!Number.isFinite(x)) throw new HemlockInputError(`--where: '${f.key}${f.op}${f.value}': '${f.value}' is not a number`);
  if (typeof v !== 'number' || !Number.isFinite(v)) return false;
  return f.op === '<' ? v < x : f.op === '<=' ? v <= x : f.op === '>' ? v > x : v >= x;
}

export function applyFilters(runs: RunRow[], filters: Filter[]): RunRow[] {
  return runs.filter((r) => filters.every((f) => matches(r, f)));
}

export interface Aggregate {
  mean: number;
  /** Half-width of the 95% confidence interval (NaN with fewer than 2 runs). */
  halfWidth: number;
  n: number;
  std: number;
}

export interface GroupRow {
  group: Record<string, unknown>;
  /** Runs in the group (completed ones are aggregated). */
  n: number;
  runs: string[];
  metrics: Record<string, Aggregate>;
}

/** Every metric key of completed runs, in first-seen order. */
export function metricKeys(runs: RunRow[]): string[] {
  const keys = new Set<string>();
  for (const r of runs) for (const k of Object.keys(r.metrics)) keys.add(k);
  return [...keys];
}

/** Groups runs by the given fields and aggregates each metric over the completed runs of a group. */
export function aggregate(runs: RunRow[], groupBy: string[], metrics = metricKeys(runs)): GroupRow[] {
  const groups = new Map<string, { group: Record<string, unknown>; runs: RunRow[] }>();
  for (const r of runs) {
    const group = Object.fromEntries(groupBy.map((k) => [k, fieldValue(r, k)]));
    const key = JSON.stringify(groupBy.map((k) => group[k]));
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { group, runs: [] }));
    g.runs.push(r);
  }
  return [...groups.values()].map((g) => {
    const done = g.runs.filter((r) => r.status === 'completed');
    const out: Record<string, Aggregate> = {};
    for (const m of metrics) {
      const values = done.map((r) => r.metrics[m]).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
      out[m] = meanCI(values);
    }
    return { group: g.group, n: g.runs.length, runs: g.runs.map((r) => r.id), metrics: out };
  });
}

/** The sweep axes of these runs (keys of their params), in first-seen order. */
export function axesOf(runs: RunRow[]): string[] {
  const keys = new Set<string>();
  for (const r of runs) for (const k of Object.keys(r.params)) keys.add(k);
  return [...keys];
}

/** Metrics worth a column, most telling first: known headline metrics, then others (not bookkeeping). */
export const HEADLINE_METRICS = [
  'cleanAccuracy',
  'testAccuracy',
  'attackSuccessRate',
  'asr',
  'targetSuccess',
  'accuracyDrop',
  'auroc',
  'tpr',
  'fpr',
  'trainAccuracy',
];
const BOOKKEEPING = /(^|\.)(seed|epochs|victimEpochs|trainSeconds|wallSeconds|pretrainSeconds|seconds|steps|iterations|numClasses|count|trials|successes|l2)$/;

/**
 * Metric keys (dotted) ordered for display: headline metrics first — by the
 * last segment of the key, so `attackSummary.targetSuccess` counts, shallower
 * keys first — then the other non-bookkeeping keys in their order.
 */
export function rankMetrics(keys: string[]): string[] {
  const last = (k: string) => k.slice(k.lastIndexOf('.') + 1);
  const depth = (k: string) => k.split('.').length;
  const head = keys
    .filter((k) => HEADLINE_METRICS.includes(last(k)))
    .sort((a, b) => HEADLINE_METRICS.indexOf(last(a)) - HEADLINE_METRICS.indexOf(last(b)) || depth(a) - depth(b));
  return [...head, ...keys.filter((k) => !head.includes(k) && !BOOKKEEPING.test(k))];
}

export function defaultMetrics(runs: RunRow[], max = 6): string[] {
  return rankMetrics(metricKeys(runs)).slice(0, max);
}

export function formatNumber(v: unknown): string {
  if (typeof v !== 'number') return v === undefined ? '' : typeof v === 'string' ? v : JSON.stringify(v);
  if (!Number.isFinite(v)) return '–';
  if (Number.isInteger(v)) return String(v);
  return Math.abs(v) >= 1000 || Math.abs(v) < 1e-3 ? v.toExponential(3) : v.toFixed(4);
}

export function formatAggregate(a: Aggregate | undefined): string {
  if (!a || a.n === 0) return '–';
  if (!Number.isFinite(a.halfWidth)) return `${formatNumber(a.mean)} (n=${a.n})`;
  const plain = Math.abs(a.mean) < 1000 && (Math.abs(a.mean) >= 1e-3 || a.mean === 0);
  return `${formatNumber(a.mean)} ± ${plain && a.halfWidth < 1000 ? a.halfWidth.toFixed(4) : formatNumber(a.halfWidth)}`;
}

/** RFC 4180 CSV. */
export function toCsv(headers: string[], rows: unknown[][]): string {
  const cell = (v: unknown) => {
    const s = v === undefined || v === null ? '' : typeof v === 'string' ? v : typeof v === 'number' ? (Number.isFinite(v) ? String(v) : '') : JSON.stringify(v);
    return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return [headers, ...rows].map((r) => r.map(cell).join(',')).join('\n') + '\n';
}

export interface LoadResultsOptions {
  sweep?: string;
  status?: string;
  /** Index every run folder found in the store first (also plain `hemlock train --out DIR` folders). */
  rescan?: boolean;
}

/** Indexes every run folder under `dir` (a store or a folder of runs); returns how many were found. */
export function rescanStore(dir: string): number {
  const folders = findRunFolders(dir);
  const db = ResultsDb.open(dir);
  try {
    for (const f of folders) {
      const folder = readRunFolder(f);
      const spec = folder.spec as { name?: string } | undefined;
      indexRunFolder(db, dir, { id: basename(f), name: spec?.name ?? basename(f), spec: folder.spec ?? {}, params: {} }, f);
      if (folder.status === 'failed') db.recordFailed(basename(f), folder.manifest?.error ?? 'failed');
    }
  } finally {
    db.close();
  }
  return folders.length;
}

/** The runs of a store's results index. */
export function loadResults(store: string, opts: LoadResultsOptions = {}): RunRow[] {
  if (!existsSync(store)) throw new HemlockInputError(`--store: ${store} does not exist`);
  if (opts.status !== undefined && !(RUN_STATUSES as readonly string[]).includes(opts.status)) {
    throw new HemlockInputError(`--status: expected one of ${RUN_STATUSES.join(', ')}, got '${opts.status}'`);
  }
  if (opts.rescan) rescanStore(store);
  if (!existsSync(join(store, DB_FILE))) {
    throw new HemlockInputError(`--store: ${store} has no results index (${DB_FILE}); run a sweep into it, or add --rescan to index its run folders`);
  }
  const db = ResultsDb.open(store);
  try {
    if (opts.sweep && !db.getSweep(opts.sweep)) {
      const known = db.listSweeps().map((s) => `${s.name} (${s.id})`);
      throw new HemlockInputError(`--sweep: no sweep '${opts.sweep}' in ${store}${known.length ? ` (known: ${known.join(', ')})` : ''}`);
    }
    return db.listRuns({ ...(opts.sweep ? { sweep: opts.sweep } : {}), ...(opts.status ? { status: opts.status as RunStatus } : {}) });
  } finally {
    db.close();
  }
}
