import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { checkGlueMatchesBundle, runtimeSupportsWasmThreads, threadFiles } from './threads.js';

const ROOT = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..', '..');

// Runs in a fresh Node (the backend is chosen once per process) against dist/,
// which test/globalSetup.ts compiles before the suite.
const SCRIPT = `
const { initBackend } = await import('./dist/engine/backend.js');
const { tf } = await import('./dist/engine/tf.js');
const info = await initBackend('wasm');
const r = tf.tidy(() => {
  const x = tf.tensor4d(Array.from({ length: 2 * 9 * 7 * 3 }, (_, i) => Math.sin(i)), [2, 9, 7, 3]);
  const w = tf.tensor4d(Array.from({ length: 3 * 3 * 3 * 16 }, (_, i) => Math.cos(i)), [3, 3, 3, 16]);
  const y = tf.relu(tf.conv2d(x, w, 2, 'same'));
  const m = tf.matMul(tf.reshape(y, [-1, 16]), tf.reshape(y, [-1, 16]), true, false);
  return Array.from(tf.concat([tf.reshape(y, [-1]), tf.reshape(m, [-1])]).dataSync());
});
console.log(JSON.stringify({ info, r }));
`;

function run(threads: string): { info: { wasmThreads: number; wasmThreadsFallback?: string }; r: number[] } {
  const p = spawnSync(process.execPath, ['--input-type=module', '-e', SCRIPT], {
    cwd: ROOT,
    env: { ...process.env, HEMLOCK_THREADS: threads, HEMLOCK_BACKEND: '' },
    encoding: 'utf8',
    // The process must exit by itself: pool threads never hold it open.
    timeout: 90_000,
  });
  expect(p.error).toBeUndefined();
  expect(p.status, p.stderr).toBe(0);
  return JSON.parse(p.stdout.trim().split('\n').at(-1)!);
}

describe('multi-threaded wasm backend in Node', () => {
  it('finds the package files it needs and the glue matches the bundled build', () => {
    expect(runtimeSupportsWasmThreads()).toBe(true);
    expect(threadFiles().glue).toMatch(/tfjs-backend-wasm-threaded-simd\.js$/);
    expect(() => checkGlueMatchesBundle()).not.toThrow();
  });

  it('starts with 2 threads, reports them, gives the single-threaded results, and exits', () => {
    const one = run('1');
    const two = run('2');
    expect(one.info.wasmThreads).toBe(1);
    expect(two.info.wasmThreadsFallback).toBeUndefined();
    expect(two.info.wasmThreads).toBe(2);
    expect(two.r.length).toBe(one.r.length);
    for (let i = 0; i < one.r.length; i++) expect(two.r[i]).toBeCloseTo(one.r[i]!, 3);
  });

  it('rejects a bad HEMLOCK_THREADS with one line naming it', () => {
    const p = spawnSync(process.execPath, ['--input-type=module', '-e', SCRIPT], {
      cwd: ROOT,
      env: { ...process.env, HEMLOCK_THREADS: 'many', HEMLOCK_BACKEND: '' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(p.status).not.toBe(0);
    expect(p.stderr).toMatch(/HEMLOCK_THREADS: expected a positive integer, got 'many'/);
  });
});
