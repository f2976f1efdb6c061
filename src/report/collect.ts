import { existsSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { HemlockInputError } from '../engine/errors.js';
import { DB_FILE, ResultsDb } from '../experiments/resultsDb.js';
import { findRunFolders, readRunFolder, RUNS_DIR, SWEEPS_DIR } from '../experiments/store.js';
import { readRunGalleries, type Gallery } from './images.js';
import type { ReportInput, ReportRun } from './report.js';

/** One run folder as a report run (full metrics from its metrics.json). */
export function reportRunFromFolder(dir: string, params: Record<string, unknown> = {}, id = basename(dir)): ReportRun {
  const f = readRunFolder(dir);
  const status: ReportRun['status'] = f.status === 'absent' ? 'pending' : f.status;
  return {
    id,
    name: f.manifest?.name ?? (f.spec as { name?: string } | undefined)?.name ?? id,
    status,
    params,
    metrics: f.metrics ?? {},
    ...(f.spec !== undefined ? { spec: f.spec } : {}),
    ...(f.manifest?.error ? { error: f.manifest.error } : {}),
    ...(f.manifest?.environment ? { environment: f.manifest.environment } : {}),
  };
}

function galleriesOf(dir: string, label: string): Gallery[] {
  return readRunGalleries(join(dir, 'artifacts')).map((g) => ({ ...g, title: label ? `${g.title} (${label})` : g.title }));
}

export interface CollectOptions {
  /** In a store: only this sweep (id or name). */
  sweep?: string;
  title?: string;
}

/**
 * Gathers what a report shows from PATH: a run folder; a store (its results
 * index, optionally one sweep); a sweep file `<store>/sweeps/<id>.json`; or a
 * folder of run folders (`hemlock train --out DIR`).
 */
export function collectReport(path: string, opts: CollectOptions = {}): ReportInput {
  if (!existsSync(path)) throw new HemlockInputError(`${path}: no such file or directory`);
  // A sweep file inside a store.
  if (statSync(path).isFile()) {
    if (basename(dirname(resolve(path))) === SWEEPS_DIR && path.endsWith('.json')) {
      const store = dirname(dirname(resolve(path)));
      return collectReport(store, { ...opts, sweep: basename(path, '.json') });
    }
    throw new HemlockInputError(`${path}: not a run folder, a store, or a sweep file (<store>/sweeps/<id>.json)`);
  }
  // A run folder.
  if (existsSync(join(path, 'spec.json')) && existsSync(join(path, 'manifest.json'))) {
    let params: Record<string, unknown> = {};
    const store = dirname(dirname(resolve(path)));
    if (basename(dirname(resolve(path))) === RUNS_DIR && existsSync(join(store, DB_FILE))) {
      const db = ResultsDb.open(store);
      try {
        params = db.getRun(basename(path))?.params ?? {};
      } finally {
        db.close();
      }
    }
    const run = reportRunFromFolder(path, params);
    return {
      title: opts.title ?? `hemlock run ${run.id}`,
      subtitle: `${run.name} · ${run.status}`,
      runs: [run],
      galleries: galleriesOf(path, ''),
      ...(run.spec !== undefined ? { spec: run.spec } : {}),
    };
  }
  // A store with a results index.
  if (existsSync(join(path, DB_FILE))) {
    const db = ResultsDb.open(path);
    try {
      const sweeps = db.listSweeps();
      const sweep = opts.sweep ? db.getSweep(opts.sweep) : sweeps.length === 1 ? sweeps[0] : undefined;
      if (opts.sweep && !sweep) {
        throw new HemlockInputError(`--sweep: no sweep '${opts.sweep}' in ${path}${sweeps.length ? ` (known: ${sweeps.map((s) => `${s.name} (${s.id})`).join(', ')})` : ''}`);
      }
      const rows = db.listRuns(sweep ? { sweep: sweep.id } : {});
      const runs = rows.map((r) => {
        const dir = join(path, r.runDir);
        return existsSync(dir) ? { ...reportRunFromFolder(dir, r.params, r.id), status: r.status, ...(r.error ? { error: r.error } : {}) } : { id: r.id, name: r.name, status: r.status, params: r.params, metrics: {}, spec: r.spec, ...(r.error ? { error: r.error } : {}) };
      });
      const galleries = rows.flatMap((r) => galleriesOf(join(path, r.runDir), rows.length > 1 ? `run ${r.id}` : ''));
      return {
        title: opts.title ?? (sweep ? `hemlock sweep ${sweep.name}` : `hemlock store ${basename(resolve(path))}`),
        subtitle: sweep ? `sweep ${sweep.id} · ${runs.length} runs · store ${path}` : `${runs.length} runs from ${sweeps.length} sweep(s) · store ${path}`,
        runs,
        galleries,
        ...(sweep ? { spec: sweep.spec } : sweeps.length ? { spec: sweeps.map((s) => ({ id: s.id, name: s.name, spec: s.spec })) } : {}),
      };
    } finally {
      db.close();
    }
  }
  // A folder of run folders.
  const folders = findRunFolders(path);
  if (folders.length === 0) throw new HemlockInputError(`${path}: not a run folder, a store, or a folder of runs (no spec.json found)`);
  const runs = folders.map((f) => reportRunFromFolder(f));
  return {
    title: opts.title ?? `hemlock runs in ${basename(resolve(path))}`,
    subtitle: `${runs.length} runs · ${path}`,
    runs,
    galleries: folders.flatMap((f) => galleriesOf(f, folders.length > 1 ? `run ${basename(f)}` : '')),
  };
}

