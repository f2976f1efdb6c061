import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { tf } from './tf.js';
import { setWasmPaths, setThreadsCount, getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { availableParallelism } from 'node:os';
import { trimIdleWorkers, withWasmThreads } from './wasm/threads.js';
import { HemlockInputError } from './errors.js';
import { registerWasmKernels } from './kernels/index.js';
import { registerGradients } from './gradients/index.js';
import { loadNative, nativeActive } from './native/loader.js';

export const BACKEND_NAMES = ['tensorflow', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];

export interface BackendInfo {
  /** The backend in use, as tfjs names it. */
  name: BackendName;
  /** Which backends were tried, in order, and why the earlier ones were skipped. */
  tried: { name: BackendName; ok: boolean; reason?: string }[];
  tfjsVersion: string;
  wasmSimd?: boolean;
  /** Threads XNNPACK actually runs on (as the wasm module reports it). */
  wasmThreads?: number;
  /** Set when threads were wanted but the threaded build failed: the reason. */
  wasmThreadsFallback?: string;
  /**
   * hemlock's native kernels (src/engine/native/): when active, the ISA they
   * were compiled for and their pool's thread count; else why not (not built,
   * HEMLOCK_NATIVE=0, or the load error). wasm backend only.
   */
  native?: { active: true; isa: string; threads: number } | { active: false; reason: string; failed: boolean };
}

const require = createRequire(import.meta.url);
let current: BackendInfo | null = null;
let registered = false;

function parseBackend(value: string, where: string): BackendName | 'auto' {
  if (value === 'auto' || (BACKEND_NAMES as readonly string[]).includes(value)) return value as BackendName | 'auto';
  throw new HemlockInputError(`${where}: unknown backend '${value}' (expected one of auto, ${BACKEND_NAMES.join(', ')})`);
}

async function tryTensorflow(): Promise<void> {
  // tfjs-node is an optional fast path: it is not a dependency because its
  // installer downloads libtensorflow. When a user has installed it, importing
  // it registers the 'tensorflow' backend on our tfjs-core.
  const mod = '@tensorflow/tfjs-node';
  await import(mod);
  if (!(await tf.setBackend('tensorflow'))) throw new Error('tfjs-node loaded but the tensorflow backend did not start');
}

/**
 * Threads for the wasm backend: `HEMLOCK_THREADS` if set (1 = the
 * single-threaded SIMD build), else every logical core (at most 8, the size of
 * emscripten's worker pool).
 */
export function wantedWasmThreads(): number {
  const env = process.env.HEMLOCK_THREADS;
  if (env !== undefined && env !== '') {
    const n = Number(env);
    if (!Number.isInteger(n) || n < 1) throw new HemlockInputError(`HEMLOCK_THREADS: expected a positive integer, got '${env}'`);
    return Math.min(n, 8);
  }
  return Math.max(1, Math.min(8, availableParallelism()));
}

/** Why the threaded wasm build was not used (when it was wanted). */
let wasmThreadsFallback: string | undefined;

/**
 * Drops a half-started wasm backend instance so the next setBackend('wasm')
 * builds a fresh one (tfjs-core keeps the factory of a backend whose start
 * failed, but removeBackend also forgets the factory: register it again).
 */
function resetWasmBackend(): void {
  const engine = tf.engine() as unknown as { registryFactory: Record<string, { factory: () => tf.KernelBackend | Promise<tf.KernelBackend>; priority: number }> };
  const entry = engine.registryFactory.wasm;
  if (!entry || !tf.findBackend('wasm')) return;
  tf.removeBackend('wasm');
  tf.registerBackend('wasm', entry.factory, entry.priority);
}

async function startWasm(): Promise<void> {
  if (!(await tf.setBackend('wasm'))) throw new Error('the wasm backend failed to initialise');
}

async function tryWasm(): Promise<void> {
  // In Node the wasm binaries are read from the package's dist folder.
  const dist = dirname(require.resolve('@tensorflow/tfjs-backend-wasm'));
  try {
    setWasmPaths(join(dist, '/'));
  } catch {
    // Already initialised once in this process: the paths are set.
  }
  const threads = wantedWasmThreads();
  wasmThreadsFallback = undefined;
  if (threads > 1) {
    try {
      tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
      setThreadsCount(threads);
      await withWasmThreads(threads, startWasm);
      trimIdleWorkers((tf.backend() as unknown as { wasm: unknown }).wasm);
      return;
    } catch (e) {
      // Fall back to the single-threaded SIMD build, and say why.
      wasmThreadsFallback = e instanceof Error ? e.message.split('\n')[0] : String(e);
      tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
      setThreadsCount(1);
      resetWasmBackend();
    }
  } else {
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  }
  await startWasm();
}

/**
 * Chooses and starts the tensor backend: the requested one, or with 'auto'
 * tfjs-node if it loads, else wasm, else cpu. `HEMLOCK_BACKEND` is read when no
 * backend is requested. Registers hemlock's kernels and gradients first.
 */
export async function initBackend(requested?: string): Promise<BackendInfo> {
  const fromEnv = process.env.HEMLOCK_BACKEND;
  const want = requested
    ? parseBackend(requested, '--backend')
    : fromEnv
      ? parseBackend(fromEnv, 'HEMLOCK_BACKEND')
      : 'auto';
  if (current && (want === 'auto' || want === current.name)) return current;
  // A bad HEMLOCK_THREADS is the user's error, not a reason to skip wasm.
  wantedWasmThreads();
  if (!registered) {
    registerGradients();
    registerWasmKernels();
    registered = true;
  }
  const order: BackendName[] = want === 'auto' ? [...BACKEND_NAMES] : [want];
  const tried: BackendInfo['tried'] = [];
  for (const name of order) {
    try {
      if (name === 'tensorflow') await tryTensorflow();
      else if (name === 'wasm') await tryWasm();
      else if (!(await tf.setBackend('cpu'))) throw new Error('cpu backend failed');
      // The cpu backend greets Node users once with advice to install tfjs-node;
      // hemlock reports its backend choice itself.
      if (name === 'cpu') (tf.backend() as unknown as { firstUse: boolean }).firstUse = false;
      await tf.ready();
      tried.push({ name, ok: true });
      current = {
        name,
        tried,
        tfjsVersion: tf.version.tfjs ?? tf.version_core,
        ...(name === 'wasm'
          ? {
              wasmSimd: Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')),
              wasmThreads: getThreadsCount(),
              ...(wasmThreadsFallback ? { wasmThreadsFallback } : {}),
              native: nativeInfo(),
            }
          : {}),
      };
      return current;
    } catch (e) {
      const reason = e instanceof Error ? e.message.split('\n')[0] : String(e);
      tried.push({ name, ok: false, reason });
      if (want !== 'auto') {
        throw new HemlockInputError(`backend '${name}' is not available here: ${reason}`);
      }
    }
  }
  throw new Error(`no tensor backend could start: ${JSON.stringify(tried)}`);
}

function nativeInfo(): NonNullable<BackendInfo['native']> {
  const s = loadNative();
  if (s.loaded && nativeActive()) return { active: true, isa: s.isa ?? '?', threads: s.threads ?? 1 };
  return { active: false, reason: s.loaded ? 'disabled at run time' : (s.reason ?? 'unknown'), failed: s.failed === true };
}

export function currentBackend(): BackendInfo {
  if (!current) throw new Error('initBackend() has not been called');
  return current;
}

/**
 * One line for logs: "backend: wasm (simd, 2 threads, native avx512 kernels)".
 * A native addon that exists but failed to load is reported with its reason;
 * one that was not built or is disabled (HEMLOCK_NATIVE=0) is not mentioned.
 */
export function describeBackend(info: BackendInfo): string {
  if (info.name !== 'wasm') return `backend: ${info.name}`;
  const plural = (n: number | undefined) => `${n} thread${n === 1 ? '' : 's'}`;
  const threads = plural(info.wasmThreads);
  const n = info.native;
  const native = n?.active
    ? `, native ${n.isa} kernels${n.threads === info.wasmThreads ? '' : ` on ${plural(n.threads)}`}`
    : '';
  const why = info.wasmThreadsFallback ? `; threaded build unavailable: ${info.wasmThreadsFallback}` : '';
  const nativeWhy = n && !n.active && n.failed ? `; native kernels unavailable: ${n.reason}` : '';
  return `backend: wasm (${info.wasmSimd ? 'simd' : 'no simd'}, ${threads}${native}${why}${nativeWhy})`;
}
