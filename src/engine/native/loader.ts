/**
 * Loader of hemlock's optional native kernels (`native/`, a C++ N-API addon
 * built by node-gyp at `npm ci` / `npm run prepare`, see
 * scripts/build-native.mjs).
 *
 * The addon computes the heavy wasm-backend kernels (GEMM, conv2d and its two
 * gradients) in place on the wasm backend's heap with AVX-512/AVX2 instead of
 * wasm's 128-bit SIMD. It is optional: when it was not built (no compiler),
 * fails to load (e.g. built for another CPU), or `HEMLOCK_NATIVE=0`, hemlock
 * keeps its wasm kernels. Loading never throws; the status says why not.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';

/** The addon's exports (native/src/addon.cc). Arrays are views of the wasm heap. */
export interface NativeAddon {
  info(): { isa: string; threads: number; mr: number; nr: number };
  setThreads(n: number): void;
  matmul(
    a: Float32Array,
    b: Float32Array,
    c: Float32Array,
    batch: number,
    m: number,
    n: number,
    k: number,
    transA: boolean,
    transB: boolean,
    strideA: number,
    strideB: number,
  ): void;
  /** dims = [N,H,W,C, KH,KW,CO, OH,OW, sh,sw, dh,dw, pt,pl] */
  conv2d(x: Float32Array, filter: Float32Array, y: Float32Array, dims: number[]): void;
  conv2dBackpropInput(dy: Float32Array, filter: Float32Array, dx: Float32Array, dims: number[]): void;
  conv2dBackpropFilter(x: Float32Array, dy: Float32Array, dw: Float32Array, dims: number[]): void;
  /** y[i] = f(x[i]), i < n; op 0 exp, 1 relu. */
  unary(op: number, x: Float32Array, y: Float32Array, n: number): void;
  /** out = a op b (0 add, 1 sub, 2 mul) over `shape`, element strides sa/sb (0 = broadcast; innermost 0 or 1). */
  binary(op: number, a: Float32Array, b: Float32Array, out: Float32Array, shape: number[], sa: number[], sb: number[]): void;
  /** op 0 sum (float64 accumulation), 1 max (NaN propagates), 2 mean over the middle axis of x [outer, mid, inner]. */
  reduce(op: number, x: Float32Array, out: Float32Array, outer: number, mid: number, inner: number): void;
  /** out = a cmp b as 0/1 bytes (0 ==, 1 !=, 2 >, 3 >=, 4 <, 5 <=), strides as for binary. */
  compare(op: number, a: Float32Array, b: Float32Array, out: Uint8Array, shape: number[], sa: number[], sb: number[]): void;
}

export interface NativeStatus {
  /** True when the addon is loaded (whether or not kernels are currently enabled). */
  loaded: boolean;
  /** Path of the addon binary (looked up relative to the package root). */
  path: string;
  /** 'avx512' | 'avx2' | 'generic': the ISA the addon was compiled for. */
  isa?: string;
  /** Threads of the addon's pool (HEMLOCK_THREADS, else every logical core). */
  threads?: number;
  /** Why the addon is not loaded: not built, disabled, or the load error. */
  reason?: string;
  /** True when reason is a failure to load a binary that exists (worth reporting). */
  failed?: boolean;
}

const require = createRequire(import.meta.url);
// src/engine/native/ and dist/engine/native/ are both three levels below the package root.
export const NATIVE_ADDON_PATH = fileURLToPath(new URL('../../../native/build/Release/hemlock_native.node', import.meta.url));

let status: NativeStatus | null = null;
let addon: NativeAddon | null = null;
let enabled = true;

/**
 * Threads for the native pool: `HEMLOCK_THREADS` when it is a positive
 * integer (as for the wasm pool; a bad value is reported by the backend, not
 * here), else every logical core.
 */
export function wantedNativeThreads(): number {
  const env = process.env.HEMLOCK_THREADS;
  const n = env === undefined || env === '' ? NaN : Number(env);
  if (Number.isInteger(n) && n >= 1) return Math.min(n, 256);
  return Math.max(1, availableParallelism());
}

/** Loads the addon once (cached). Never throws. */
export function loadNative(): NativeStatus {
  if (status) return status;
  const path = NATIVE_ADDON_PATH;
  if (process.env.HEMLOCK_NATIVE === '0') {
    status = { loaded: false, path, reason: 'disabled by HEMLOCK_NATIVE=0' };
    return status;
  }
  if (!existsSync(path)) {
    status = { loaded: false, path, reason: 'not built (npm run prepare builds it when a C++ compiler is present)' };
    return status;
  }
  try {
    const mod = require(path) as NativeAddon;
    mod.setThreads(wantedNativeThreads());
    const info = mod.info();
    addon = mod;
    status = { loaded: true, path, isa: info.isa, threads: info.threads };
  } catch (e) {
    addon = null;
    const reason = e instanceof Error ? e.message.split('\n')[0]! : String(e);
    status = { loaded: false, path, reason, failed: true };
  }
  return status;
}

/** The addon when it is loaded and enabled, else null (use the wasm kernels). */
export function nativeAddon(): NativeAddon | null {
  if (!enabled) return null;
  loadNative();
  return addon;
}

/**
 * Turns the native kernels off and on at run time (for benchmarks that
 * compare both paths in one process, and tests). Has no effect when the addon
 * is not loaded.
 */
export function setNativeEnabled(on: boolean): void {
  enabled = on;
}

/** True when native kernels will be used by the next kernel call. */
export function nativeActive(): boolean {
  return nativeAddon() !== null;
}

/** Sets the native pool's thread count (no-op when the addon is not loaded). */
export function setNativeThreads(n: number): void {
  loadNative();
  if (!addon || !status) return;
  addon.setThreads(n);
  status.threads = addon.info().threads;
}
