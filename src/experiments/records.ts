import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { sha256, writeJsonAtomic } from '../engine/files.js';
import type { Environment } from './environment.js';

/** Stable JSON (sorted keys) so equal specs hash equally. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

export function specHash(resolved: unknown): string {
  return sha256(canonicalJson(resolved)).slice(0, 12);
}

export interface RunManifest {
  runId: string;
  name: string;
  specHash: string;
  seed: number;
  status: 'running' | 'completed' | 'failed';
  startedAt: string;
  endedAt?: string;
  resumedAt?: string[];
  error?: string;
  environment: Environment;
}

/**
 * One run's folder: spec.json (the resolved spec), manifest.json, log.txt,
 * metrics.json (only once the run completed), artifacts/. All JSON is written
 * atomically; metrics.json last, so its presence means "complete".
 */
export class RunRecord {
  readonly dir: string;
  readonly artifactsDir: string;
  manifest: RunManifest;

  private constructor(dir: string, manifest: RunManifest) {
    this.dir = dir;
    this.artifactsDir = join(dir, 'artifacts');
    this.manifest = manifest;
  }

  /**
   * Opens the run folder for a resolved spec under `root`: an unfinished run of
   * the same spec is resumed in place; a finished one is never overwritten (a
   * new folder with a numeric suffix is made).
   */
  static async open(root: string, name: string, resolvedSpec: { seed: number }, environment: Environment): Promise<{ record: RunRecord; resumed: boolean }> {
    const hash = specHash(resolvedSpec);
    for (let k = 1; ; k++) {
      const runId = k === 1 ? `${name}-${hash}` : `${name}-${hash}-${k}`;
      const dir = join(root, runId);
      if (existsSync(join(dir, 'metrics.json'))) continue;
      return RunRecord.openDir(dir, runId, name, hash, resolvedSpec, environment);
    }
  }

  /**
   * Opens the run folder at exactly `dir` (a sweep's `<store>/runs/<runId>/`,
   * where the run id is the spec hash): an unfinished run there is resumed in
   * place; a finished one is an error, since a sweep never redoes a run.
   */
  static async openAt(dir: string, name: string, resolvedSpec: { seed: number }, environment: Environment): Promise<{ record: RunRecord; resumed: boolean }> {
    if (existsSync(join(dir, 'metrics.json'))) throw new Error(`${dir}: run already completed (metrics.json exists)`);
    return RunRecord.openDir(dir, basename(dir), name, specHash(resolvedSpec), resolvedSpec, environment);
  }

  private static async openDir(dir: string, runId: string, name: string, hash: string, resolvedSpec: { seed: number }, environment: Environment): Promise<{ record: RunRecord; resumed: boolean }> {
    const now = new Date().toISOString();
    const resumed = existsSync(join(dir, 'manifest.json'));
    mkdirSync(join(dir, 'artifacts'), { recursive: true });
    const manifest: RunManifest = resumed
      ? (JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as RunManifest)
      : { runId, name, specHash: hash, seed: resolvedSpec.seed, status: 'running', startedAt: now, environment };
    if (resumed) {
      manifest.status = 'running';
      manifest.resumedAt = [...(manifest.resumedAt ?? []), now];
      manifest.environment = environment;
      delete manifest.error;
    }
    const record = new RunRecord(dir, manifest);
    await writeJsonAtomic(join(dir, 'spec.json'), resolvedSpec);
    await record.saveManifest();
    return { record, resumed };
  }

  async saveManifest(): Promise<void> {
    await writeJsonAtomic(join(this.dir, 'manifest.json'), this.manifest);
  }

  log(line: string): void {
    appendFileSync(join(this.dir, 'log.txt'), `${new Date().toISOString()} ${line}\n`);
  }

  async complete(metrics: object): Promise<void> {
    await writeJsonAtomic(join(this.dir, 'metrics.json'), metrics);
    this.manifest.status = 'completed';
    this.manifest.endedAt = new Date().toISOString();
    await this.saveManifest();
  }

  async fail(error: unknown): Promise<void> {
    this.manifest.status = 'failed';
    this.manifest.endedAt = new Date().toISOString();
    this.manifest.error = error instanceof Error ? error.message : String(error);
    this.log(`failed: ${this.manifest.error}`);
    await this.saveManifest();
  }
}
