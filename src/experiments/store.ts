import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { HemlockInputError } from '../engine/errors.js';
import type { RunManifest } from './records.js';
import type { ArtifactRow, ResultsDb } from './resultsDb.js';

/**
 * A store is a directory shared by everything that runs a sweep:
 *
 *   <store>/results.sqlite       the results index (ResultsDb)
 *   <store>/sweeps/<id>.json     each sweep's spec and run ids
 *   <store>/runs/<runId>/        one folder per run (RunRecord layout)
 *
 * A run folder with metrics.json is complete (RunRecord writes it atomically,
 * and last); anything else in a run folder is partial output: never a result,
 * only something a resumed run may continue from.
 */
export const RUNS_DIR = 'runs';
export const SWEEPS_DIR = 'sweeps';

export const STORE_FILE = 'store.json';

/**
 * The store's identity (`<store>/store.json`, created once): the coordinator
 * sends it with every job, and a worker whose --store holds a different one
 * (or none) refuses the job instead of writing results nobody will find.
 */
export function ensureStoreId(store: string): string {
  mkdirSync(store, { recursive: true });
  const file = join(store, STORE_FILE);
  try {
    writeFileSync(file, JSON.stringify({ id: randomUUID(), createdAt: new Date().toISOString() }) + '\n', { flag: 'wx' });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  const id = readStoreId(store);
  if (!id) throw new Error(`${file}: unreadable store identity`);
  return id;
}

/** The store's identity, or undefined when it has none (yet). */
export function readStoreId(store: string): string | undefined {
  try {
    return (JSON.parse(readFileSync(join(store, STORE_FILE), 'utf8')) as { id?: string }).id;
  } catch {
    return undefined;
  }
}

const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** `<store>/runs/<runId>`; refuses ids that are not one plain path segment (ids arrive over the network). */
export function runDirFor(store: string, runId: string): string {
  if (!SAFE_ID.test(runId)) throw new HemlockInputError(`run id '${runId}': not a valid run id`);
  return join(store, RUNS_DIR, runId);
}

/** Reads a JSON file, or undefined when it is missing or unreadable. */
function readJson<T>(path: string): T | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/** A run folder is complete exactly when it holds a readable metrics.json. */
export function isRunComplete(runDir: string): boolean {
  return readJson(join(runDir, 'metrics.json')) !== undefined;
}

export interface RunFolder {
  dir: string;
  spec: unknown;
  manifest?: RunManifest;
  /** The metrics, only when the run is complete. */
  metrics?: Record<string, unknown>;
  status: 'completed' | 'failed' | 'running' | 'absent';
}

export function readRunFolder(runDir: string): RunFolder {
  const metrics = readJson<Record<string, unknown>>(join(runDir, 'metrics.json'));
  const manifest = readJson<RunManifest>(join(runDir, 'manifest.json'));
  const spec = readJson<unknown>(join(runDir, 'spec.json'));
  const status = metrics ? 'completed' : !manifest ? 'absent' : manifest.status === 'failed' ? 'failed' : 'running';
  return { dir: runDir, spec, ...(manifest ? { manifest } : {}), ...(metrics ? { metrics } : {}), status };
}

/** Files under the run's artifacts/ folder, paths relative to the run folder. */
export function listArtifacts(runDir: string): ArtifactRow[] {
  const root = join(runDir, 'artifacts');
  const out: ArtifactRow[] = [];
  const walk = (dir: string) => {
    if (!existsSync(dir)) return;
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && !e.name.endsWith('.tmp')) out.push({ path: relative(runDir, p), bytes: statSync(p).size });
    }
  };
  walk(root);
  return out.sort((a, b) => (a.path < b.path ? -1 : 1));
}

/**
 * Brings the index in line with one run folder: a complete folder is recorded
 * as completed (with metrics and artifacts), anything else as pending.
 * Returns whether the run is complete.
 */
export function indexRunFolder(
  db: ResultsDb,
  store: string,
  run: { id: string; name: string; spec: unknown; params: Record<string, unknown> },
  runDir = runDirFor(store, run.id),
): boolean {
  const folder = readRunFolder(runDir);
  const rel = relative(store, runDir) || '.';
  if (folder.status === 'completed') {
    db.recordCompleted({
      id: run.id,
      name: run.name,
      spec: run.spec,
      params: run.params,
      runDir: rel,
      metrics: folder.metrics,
      artifacts: listArtifacts(runDir),
      startedAt: folder.manifest?.startedAt ?? null,
      endedAt: folder.manifest?.endedAt ?? null,
    });
    return true;
  }
  db.upsertPending({ id: run.id, name: run.name, spec: run.spec, params: run.params, runDir: rel, error: folder.manifest?.error ?? null });
  return false;
}

/**
 * Every run folder under a directory: `<dir>/runs/*` (a store) and `<dir>/*`
 * (a folder of `hemlock train` runs), each one holding a spec.json.
 */
export function findRunFolders(dir: string): string[] {
  const out: string[] = [];
  for (const parent of [join(dir, RUNS_DIR), dir]) {
    if (!existsSync(parent) || !statSync(parent).isDirectory()) continue;
    for (const e of readdirSync(parent, { withFileTypes: true })) {
      if (e.isDirectory() && existsSync(join(parent, e.name, 'spec.json'))) out.push(join(parent, e.name));
    }
  }
  return out.sort();
}
