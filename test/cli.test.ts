import { describe, expect, it, beforeAll } from 'vitest';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hemlock } from './cli.js';

const MINI = join(import.meta.dirname, '..', 'data', 'fashion-mnist-mini');

describe('CLI contracts', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'hemlock-cli-'));
  });

  it('--help works', () => {
    const r = hemlock(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Usage: hemlock/);
    for (const c of ['train', 'run', 'data', 'list', 'bench', 'demo', 'schema']) expect(r.stdout).toContain(c);
  });

  it('list --json lists datasets, models, attacks and defenses', () => {
    const r = hemlock(['list', '--json']);
    expect(r.code).toBe(0);
    expect(r.json.datasets).toEqual(expect.arrayContaining(['fashion-mnist-mini', 'fashion-mnist']));
    expect(r.json.models).toEqual(expect.arrayContaining(['convnet-s', 'resnet', 'mlp']));
    expect(Array.isArray(r.json.attacks)).toBe(true);
    expect(Array.isArray(r.json.defenses)).toBe(true);
  });

  it('data inspect on an IDX file and a dataset directory', () => {
    const f = hemlock(['data', 'inspect', join(MINI, 'train-labels-idx1-ubyte.gz'), '--json']);
    expect(f.code).toBe(0);
    expect(f.json).toMatchObject({ format: 'idx', count: 6000, shape: [6000] });
    expect(Object.values(f.json.labelHistogram as Record<string, number>)).toEqual(new Array(10).fill(600));
    const d = hemlock(['data', 'inspect', MINI, '--json']);
    expect(d.code).toBe(0);
    expect(d.json).toMatchObject({ format: 'dataset-dir', count: 7000 });
  });

  it('data export writes NPY that data inspect reads back', () => {
    const out = join(dir, 'export');
    const r = hemlock(['data', 'export', '--dataset', 'fashion-mnist-mini', '--format', 'npy', '--classes', '0,1', '--out', out, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(join(out, 'manifest.json'))).toBe(true);
    const x = hemlock(['data', 'inspect', join(out, 'x_train.npy'), '--json']);
    expect(x.code, x.stderr).toBe(0);
    expect(x.json.shape).toEqual([1200, 28, 28, 1]);
  });

  it('schema prints a JSON Schema of the experiment spec', () => {
    const r = hemlock(['schema']);
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s.properties.train).toBeDefined();
    expect(s.additionalProperties).toBe(false);
  });

  it('train --json records a complete run, and the same seed gives identical metrics', () => {
    const args = ['train', '--dataset', 'fashion-mnist-mini', '--model', 'convnet-s', '--epochs', '1', '--seed', '3', '--train-limit', '600', '--test-limit', '200', '--out', join(dir, 'runs'), '--json'];
    const a = hemlock(args);
    expect(a.code, a.stderr).toBe(0);
    expect(a.json.testAccuracy).toBeGreaterThanOrEqual(0);
    expect(a.json.testAccuracy).toBeLessThanOrEqual(1);
    for (const f of ['spec.json', 'manifest.json', 'metrics.json', 'log.txt', 'artifacts/model/manifest.json']) expect(existsSync(join(a.json.runDir, f)), f).toBe(true);
    const manifest = JSON.parse(readFileSync(join(a.json.runDir, 'manifest.json'), 'utf8'));
    expect(manifest).toMatchObject({ status: 'completed', seed: 3 });
    expect(manifest.environment.backend.name).toBe('wasm');
    expect(manifest.environment.tfjs).toMatch(/^4\./);
    expect(a.stderr).toMatch(/backend: wasm/);
    const b = hemlock(args);
    expect(b.code, b.stderr).toBe(0);
    expect(b.json.runDir).not.toBe(a.json.runDir); // a finished run is never overwritten
    const ma = JSON.parse(readFileSync(join(a.json.runDir, 'metrics.json'), 'utf8'));
    const mb = JSON.parse(readFileSync(join(b.json.runDir, 'metrics.json'), 'utf8'));
    expect(mb.testAccuracy).toBe(ma.testAccuracy);
    expect(mb.finalLoss).toBe(ma.finalLoss);
    expect(mb.confusion).toEqual(ma.confusion);
  });
});
