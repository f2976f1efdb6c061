import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { tf } from './tf.js';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { HemlockInputError } from './errors.js';
import { registerWasmKernels } from './kernels/index.js';
import { registerGradients } from './gradients/index.js';

export const BACKEND_NAMES = ['tensorflow', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];

export interface BackendInfo {
  /** The backend in use, as tfjs names it. */
  name: BackendName;
  /** Which backends were tried, in order, and why the earlier ones were skipped. */
  tried: { name: BackendName; ok: boolean; reason?: string }[];
  tfjsVersion: string;
  wasmSimd?: boolean;
  wasmThreads?: number;
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

async function tryWasm(): Promise<void> {
  // In Node the wasm binaries are read from the package's dist folder.
  const dist = dirname(require.resolve('@tensorflow/tfjs-backend-wasm'));
  try {
    setWasmPaths(join(dist, '/'));
  } catch {
    // Already initialised once in this process: the paths are set.
  }
  if (!(await tf.setBackend('wasm'))) throw new Error('the wasm backend failed to initialise');
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
              wasmThreads: Boolean(await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT')) ? 2 : 1,
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

export function currentBackend(): BackendInfo {
  if (!current) throw new Error('initBackend() has not been called');
  return current;
}

/** One line for logs: "backend: wasm (simd, 1 thread)". */
export function describeBackend(info: BackendInfo): string {
  if (info.name !== 'wasm') return `backend: ${info.name}`;
  return `backend: wasm (${info.wasmSimd ? 'simd' : 'no simd'}, ${info.wasmThreads} thread${info.wasmThreads === 1 ? '' : 's'})`;
}
