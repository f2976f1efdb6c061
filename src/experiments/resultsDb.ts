import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';

/**
 * The results index of a store: `<store>/results.sqlite` (SQLite in WAL mode)
 * with one row per run (keyed by its run id, the hash of its resolved spec),
 * its flattened scalar metrics, its artifacts, and the sweeps it belongs to.
 *
 * The run folders under `<store>/runs/` are the source of truth; the database
 * is an index of them that the coordinator keeps up to date. Every write is an
 * idempotent upsert keyed by run id inside one transaction, so recording the
 * same result twice (a restarted coordinator, a re-run sweep) changes nothing
 * and a kill at any moment leaves either the old row or the new one.
 */

export type RunStatus = 'pending' | 'running' | 'completed' | 'failed';
export const RUN_STATUSES: readonly RunStatus[] = ['pending', 'running', 'completed', 'failed'];

export interface RunRow {
  id: string;
  name: string;
  status: RunStatus;
  /** Sweep axis values of this run (`{"seed": 1, "train.epochs": 2}`); empty for a lone run. */
  params: Record<string, unknown>;
  /** The resolved experiment spec. */
  spec: unknown;
  /** The run folder, relative to the store. */
  runDir: string;
  /** Scalar metrics, nested keys dotted (`clean.accuracy`); empty until completed. */
  metrics: Record<string, number>;
  error: string | null;
  worker: string | null;
  createdAt: string;
  updatedAt: string;
  startedAt: string | null;
  endedAt: string | null;
  /** Ids of the sweeps that include this run. */
  sweeps: string[];
}

export interface SweepRow {
  id: string;
  name: string;
  spec: unknown;
  runCount: number;
  createdAt: string;
  updatedAt: string;
}

export interface ArtifactRow {
  path: string;
  bytes: number;
}

export const DB_FILE = 'results.sqlite';

/** Numbers at any depth of a metrics object, keyed by dotted path; arrays and non-numbers are left out. */
export function flattenMetrics(value: unknown, prefix = '', out: Record<string, number> = {}): Record<string, number> {
  if (typeof value === 'number') {
    if (prefix) out[prefix] = value;
  } else if (value && typeof value === 'object' && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) flattenMetrics(v, prefix ? `${prefix}.${k}` : k, out);
  }
  return out;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sweeps (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  spec TEXT NOT NULL,
  run_count INTEGER NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'running', 'completed', 'failed')),
  params TEXT NOT NULL DEFAULT '{}',
  spec TEXT NOT NULL,
  run_dir TEXT NOT NULL,
  error TEXT,
  worker TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  started_at TEXT,
  ended_at TEXT
);
CREATE INDEX IF NOT EXISTS runs_status ON runs (status);
CREATE TABLE IF NOT EXISTS sweep_runs (
  sweep_id TEXT NOT NULL REFERENCES sweeps (id) ON DELETE CASCADE,
  run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  position INTEGER NOT NULL,
  params TEXT NOT NULL DEFAULT '{}',
  PRIMARY KEY (sweep_id, run_id)
);
CREATE TABLE IF NOT EXISTS metrics (
  run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  key TEXT NOT NULL,
  value REAL,
  PRIMARY KEY (run_id, key)
);
CREATE TABLE IF NOT EXISTS artifacts (
  run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  path TEXT NOT NULL,
  bytes INTEGER NOT NULL,
  PRIMARY KEY (run_id, path)
);
`;

interface RawRun {
  id: string;
  name: string;
  status: RunStatus;
  params: string;
  spec: string;
  run_dir: string;
  error: string | null;
  worker: string | null;
  created_at: string;
  updated_at: string;
  started_at: string | null;
  ended_at: string | null;
}

export interface RunQuery {
  /** Only runs of this sweep (id or name). */
  sweep?: string;
  status?: RunStatus;
  /** Only this run. */
  id?: string;
}

export class ResultsDb {
  readonly path: string;
  private readonly db: Database.Database;

  private constructor(path: string, db: Database.Database) {
    this.path = path;
    this.db = db;
  }

  /** Opens (creating if needed) `<store>/results.sqlite`. */
  static open(store: string): ResultsDb {
    mkdirSync(store, { recursive: true });
    const path = join(store, DB_FILE);
    const db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.pragma('busy_timeout = 10000');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    db.exec(SCHEMA);
    db.prepare(`INSERT INTO meta (key, value) VALUES ('schemaVersion', '1') ON CONFLICT (key) DO NOTHING`).run();
    return new ResultsDb(path, db);
  }

  close(): void {
    this.db.close();
  }

  upsertSweep(sweep: { id: string; name: string; spec: unknown; runCount: number }): void {
    const now = new Date().toISOString();
    this.db
      .prepare(
        `INSERT INTO sweeps (id, name, spec, run_count, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, spec = excluded.spec, run_count = excluded.run_count, updated_at = excluded.updated_at`,
      )
      .run(sweep.id, sweep.name, JSON.stringify(sweep.spec), sweep.runCount, now, now);
  }

  /** Links runs to a sweep (after the runs exist). */
  linkSweepRuns(sweepId: string, runs: { id: string; params: Record<string, unknown> }[]): void {
    const stmt = this.db.prepare(
      `INSERT INTO sweep_runs (sweep_id, run_id, position, params) VALUES (?, ?, ?, ?)
       ON CONFLICT (sweep_id, run_id) DO UPDATE SET position = excluded.position, params = excluded.params`,
    );
    this.db.transaction(() => runs.forEach((r, i) => stmt.run(sweepId, r.id, i, JSON.stringify(r.params))))();
  }

  /**
   * Records a run that is not complete on disk: it becomes (or stays) pending.
   * A row that said completed whose folder lost its metrics goes back to pending.
   */
  upsertPending(run: { id: string; name: string; spec: unknown; params: Record<string, unknown>; runDir: string; error?: string | null }): void {
    const now = new Date().toISOString();
    this.db.transaction(() => {
      this.db
        .prepare(
          `INSERT INTO runs (id, name, status, params, spec, run_dir, error, created_at, updated_at) VALUES (?, ?, 'pending', ?, ?, ?, ?, ?, ?)
           ON CONFLICT (id) DO UPDATE SET status = 'pending', name = excluded.name, params = excluded.params, spec = excluded.spec,
             run_dir = excluded.run_dir, error = excluded.error, worker = NULL, updated_at = excluded.updated_at, ended_at = NULL`,
        )
        .run(run.id, run.name, JSON.stringify(run.params), JSON.stringify(run.spec), run.runDir, run.error ?? null, now, now);
      this.db.prepare(`DELETE FROM metrics WHERE run_id = ?`).run(run.id);
    })();
  }

  markRunning(id: string, worker: string | null): void {
    const now = new Date().toISOString();
    this.db
      .prepare(`UPDATE runs SET status = 'running', worker = ?, started_at = COALESCE(started_at, ?), updated_at = ? WHERE id = ? AND status != 'completed'`)
      .run(worker, now, now, id);
  }

  /** Records a completed run with its metrics and artifacts (replacing whatever was recorded for it). */
  recordCompleted(run: {
    id: string;
    name: string;
    spec: unknown;
    params: Record<string, unknown>;
    runDir: string;
    metrics: unknown;
    artifacts: ArtifactRow[];
    worker?: string | null;
    startedAt?: string | null;
    endedAt?: string | null;
  }): void {
    const now = new Date().toISOString();
    const flat = flattenMetrics(run.metrics);
    this.db.transaction(() => {
      this.db
        .prepare(
          `INSERT INTO runs (id, name, status, params, spec, run_dir, error, worker, created_at, updated_at, started_at, ended_at)
             VALUES (?, ?, 'completed', ?, ?, ?, NULL, ?, ?, ?, ?, ?)
           ON CONFLICT (id) DO UPDATE SET status = 'completed', name = excluded.name, params = excluded.params, spec = excluded.spec,
             run_dir = excluded.run_dir, error = NULL, worker = COALESCE(excluded.worker, runs.worker), updated_at = excluded.updated_at,
             started_at = COALESCE(excluded.started_at, runs.started_at), ended_at = COALESCE(excluded.ended_at, runs.ended_at)`,
        )
        .run(run.id, run.name, JSON.stringify(run.params), JSON.stringify(run.spec), run.runDir, run.worker ?? null, now, now, run.startedAt ?? null, run.endedAt ?? null);
      this.db.prepare(`DELETE FROM metrics WHERE run_id = ?`).run(run.id);
      const m = this.db.prepare(`INSERT INTO metrics (run_id, key, value) VALUES (?, ?, ?)`);
      for (const [k, v] of Object.entries(flat)) m.run(run.id, k, Number.isFinite(v) ? v : null);
      this.db.prepare(`DELETE FROM artifacts WHERE run_id = ?`).run(run.id);
      const a = this.db.prepare(`INSERT INTO artifacts (run_id, path, bytes) VALUES (?, ?, ?)`);
      for (const art of run.artifacts) a.run(run.id, art.path, art.bytes);
    })();
  }

  recordFailed(id: string, error: string, worker?: string | null): void {
    const now = new Date().toISOString();
    this.db
      .prepare(`UPDATE runs SET status = 'failed', error = ?, worker = COALESCE(?, worker), ended_at = ?, updated_at = ? WHERE id = ? AND status != 'completed'`)
      .run(error, worker ?? null, now, now, id);
  }

  getSweep(idOrName: string): SweepRow | undefined {
    const r = this.db
      .prepare(`SELECT * FROM sweeps WHERE id = ? OR name = ? ORDER BY updated_at DESC LIMIT 1`)
      .get(idOrName, idOrName) as { id: string; name: string; spec: string; run_count: number; created_at: string; updated_at: string } | undefined;
    return r && { id: r.id, name: r.name, spec: JSON.parse(r.spec), runCount: r.run_count, createdAt: r.created_at, updatedAt: r.updated_at };
  }

  listSweeps(): SweepRow[] {
    const rows = this.db.prepare(`SELECT * FROM sweeps ORDER BY created_at`).all() as { id: string; name: string; spec: string; run_count: number; created_at: string; updated_at: string }[];
    return rows.map((r) => ({ id: r.id, name: r.name, spec: JSON.parse(r.spec), runCount: r.run_count, createdAt: r.created_at, updatedAt: r.updated_at }));
  }

  /** Runs in sweep order (or creation order), with metrics and sweep membership. */
  listRuns(query: RunQuery = {}): RunRow[] {
    let raws: (RawRun & { sweep_params?: string })[];
    if (query.sweep) {
      const sweep = this.getSweep(query.sweep);
      if (!sweep) return [];
      raws = this.db
        .prepare(`SELECT runs.*, sweep_runs.params AS sweep_params FROM sweep_runs JOIN runs ON runs.id = sweep_runs.run_id WHERE sweep_runs.sweep_id = ? ORDER BY sweep_runs.position`)
        .all(sweep.id) as (RawRun & { sweep_params: string })[];
    } else if (query.id !== undefined) {
      raws = this.db.prepare(`SELECT * FROM runs WHERE id = ?`).all(query.id) as RawRun[];
    } else {
      raws = this.db.prepare(`SELECT * FROM runs ORDER BY created_at, rowid`).all() as RawRun[];
    }
    if (query.id !== undefined) raws = raws.filter((r) => r.id === query.id);
    if (query.status) raws = raws.filter((r) => r.status === query.status);
    const metricStmt = this.db.prepare(`SELECT key, value FROM metrics WHERE run_id = ?`);
    const sweepStmt = this.db.prepare(`SELECT sweep_id FROM sweep_runs WHERE run_id = ?`);
    return raws.map((r) => {
      const metrics: Record<string, number> = {};
      for (const m of metricStmt.all(r.id) as { key: string; value: number | null }[]) metrics[m.key] = m.value ?? NaN;
      return {
        id: r.id,
        name: r.name,
        status: r.status,
        params: JSON.parse(r.sweep_params ?? r.params) as Record<string, unknown>,
        spec: JSON.parse(r.spec),
        runDir: r.run_dir,
        metrics,
        error: r.error,
        worker: r.worker,
        createdAt: r.created_at,
        updatedAt: r.updated_at,
        startedAt: r.started_at,
        endedAt: r.ended_at,
        sweeps: (sweepStmt.all(r.id) as { sweep_id: string }[]).map((s) => s.sweep_id),
      };
    });
  }

  getRun(id: string): RunRow | undefined {
    return this.listRuns({ id })[0];
  }

  artifacts(id: string): ArtifactRow[] {
    return this.db.prepare(`SELECT path, bytes FROM artifacts WHERE run_id = ? ORDER BY path`).all(id) as ArtifactRow[];
  }

  /** Row counts, for tests and `results --stats`. */
  counts(): { runs: number; distinctRuns: number; metrics: number; artifacts: number; sweeps: number } {
    const one = (sql: string) => (this.db.prepare(sql).get() as { n: number }).n;
    return {
      runs: one(`SELECT COUNT(*) AS n FROM runs`),
      distinctRuns: one(`SELECT COUNT(DISTINCT id) AS n FROM runs`),
      metrics: one(`SELECT COUNT(*) AS n FROM metrics`),
      artifacts: one(`SELECT COUNT(*) AS n FROM artifacts`),
      sweeps: one(`SELECT COUNT(*) AS n FROM sweeps`),
    };
  }
}
