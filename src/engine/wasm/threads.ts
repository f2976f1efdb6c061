/**
 * Multi-threaded tfjs-backend-wasm in Node.
 *
 * tfjs-backend-wasm ships a threaded SIMD build (XNNPACK over a pthreadpool,
 * pthreads being emscripten web workers), but as published it never starts in
 * Node, for three reasons, each handled here without patching node_modules:
 *
 * 1. The flag `WASM_HAS_MULTITHREAD_SUPPORT` returns false whenever `IS_NODE`.
 *    We test what it would test (SharedArrayBuffer, wasm atomics) and set the
 *    flag ourselves before the backend starts.
 * 2. The pthread worker script is handed to `new Worker()` as a `blob:` URL
 *    and the main script as a Blob in the worker's "load" message; Node's
 *    `worker_threads.Worker` accepts neither. Emscripten's glue calls the
 *    global `Worker` (which it sets to `worker_threads.Worker` itself), so we
 *    install a read-only global `Worker` subclass that starts the package's
 *    own worker source (`wasm-out/tfjs-backend-wasm-threaded-simd.worker.js`,
 *    byte-identical to the string the bundle turns into a blob) with
 *    `eval: true`, and rewrites the Blob in the "load" message to the path of
 *    the package's own emscripten glue `wasm-out/tfjs-backend-wasm-threaded-simd.js`
 *    (the same build as the bundled copy: identical import and export lists,
 *    checked when this module starts the backend).
 * 3. The C++ side sizes its pool as min(requested, logicalCores / 2), assuming
 *    2 hyper-threads per core, so a 2-vCPU machine gets 1 thread. We make
 *    `os.cpus()` report 2·n entries for the instant the module initialises.
 *
 * Pool workers are never ref'd (a pthread pool thread runs for the life of the
 * process and would otherwise keep Node from exiting), and the 8 workers
 * emscripten pre-spawns are trimmed to the ones the pool uses.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { existsSync, readFileSync } from 'node:fs';
import * as os from 'node:os';
import { Worker as NodeWorker, type WorkerOptions } from 'node:worker_threads';

const require = createRequire(import.meta.url);

export interface WasmThreadFiles {
  /** emscripten glue of the threaded SIMD build (loaded by each pthread worker). */
  glue: string;
  /** Source of the pthread worker script. */
  workerSource: string;
}

let files: WasmThreadFiles | null = null;
let installed = false;
let workerError: Error | null = null;
let onWorkerError: ((e: Error) => void) | null = null;
const spawned = new Set<NodeWorker>();

function wasmPackageDir(): string {
  return join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm')), '..');
}

/** Locates the package files the threaded build needs; throws a one-line reason if any is missing. */
export function threadFiles(): WasmThreadFiles {
  if (files) return files;
  const dir = join(wasmPackageDir(), 'wasm-out');
  const glue = join(dir, 'tfjs-backend-wasm-threaded-simd.js');
  const workerJs = join(dir, 'tfjs-backend-wasm-threaded-simd.worker.js');
  for (const f of [glue, workerJs, join(dir, '..', 'dist', 'tfjs-backend-wasm-threaded-simd.wasm')]) {
    if (!existsSync(f)) throw new Error(`missing ${f}`);
  }
  const src = (require(workerJs) as { wasmWorkerContents?: string }).wasmWorkerContents;
  if (typeof src !== 'string') throw new Error(`${workerJs} does not export wasmWorkerContents`);
  // The string holds "\n" escapes inside string literals that tfjs escapes
  // again before making its blob; do the same.
  files = { glue, workerSource: src.replace(/\n/g, '\\n') };
  return files;
}

/** The wasm-import names of an emscripten glue file (the keys of its asmLibraryArg). */
function importNames(source: string): string {
  const i = source.search(/var asmLibraryArg ?= ?\{/);
  if (i < 0) return '';
  const j = source.indexOf('}', i);
  return [...source.slice(i, j).matchAll(/"([^"]+)"/g)].map((m) => m[1]).join(',');
}

/**
 * The workers load `wasm-out/…threaded-simd.js` while the main thread runs the
 * copy inlined in the package's Node bundle; they must be the same build
 * (same wasm imports), or the pthreads would instantiate the module with the
 * wrong import table.
 */
export function checkGlueMatchesBundle(): void {
  const { glue } = threadFiles();
  const bundle = readFileSync(require.resolve('@tensorflow/tfjs-backend-wasm'), 'utf8');
  const start = bundle.indexOf('var WasmBackendModuleThreadedSimd = (function');
  const end = bundle.indexOf('var wasmWorkerContents');
  if (start < 0 || end < 0) throw new Error('the tfjs-backend-wasm bundle does not have the expected layout');
  const a = importNames(readFileSync(glue, 'utf8'));
  const b = importNames(bundle.slice(start, end));
  if (!a || a !== b) throw new Error('wasm-out glue and the bundled threaded build differ');
}

/** What the flag would report outside Node: SharedArrayBuffer + wasm atomics. */
export function runtimeSupportsWasmThreads(): boolean {
  try {
    new MessageChannel().port1.postMessage(new SharedArrayBuffer(1));
    // A module with a shared memory and an atomic.notify: the same probe tfjs uses.
    const wasm = (globalThis as unknown as { WebAssembly: { validate(b: Uint8Array): boolean } }).WebAssembly;
    return wasm.validate(
      new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 3, 2, 1, 0, 5, 4, 1, 3, 1, 1, 10, 11, 1, 9, 0, 65, 0, 254, 16, 2, 0, 26, 11]),
    );
  } catch {
    return false;
  }
}

class PthreadWorker extends NodeWorker {
  constructor(url: string | URL, options?: WorkerOptions) {
    if (typeof url === 'string' && (url.startsWith('blob:') || url.endsWith('.worker.js'))) {
      // The worker source is a CommonJS script: drop a parent `--input-type`
      // flag (inherited by eval workers) that would make Node read it as ESM.
      super(threadFiles().workerSource, { eval: true, execArgv: process.execArgv.filter((a) => !a.startsWith('--input-type')) });
      spawned.add(this);
      this.once('exit', () => spawned.delete(this));
    } else {
      super(url, options);
    }
  }

  override postMessage(message: unknown, transferList?: Parameters<NodeWorker['postMessage']>[1]): void {
    const m = message as { cmd?: string; urlOrBlob?: unknown } | null;
    if (m && m.cmd === 'load' && typeof m.urlOrBlob !== 'string') {
      message = { ...m, urlOrBlob: threadFiles().glue };
    }
    super.postMessage(message, transferList);
  }

  /** Pool threads live as long as the process; never let them hold it open. */
  override ref(): void {}

  override on(event: string | symbol, listener: (...args: any[]) => void): this {
    if (event !== 'error') return super.on(event, listener);
    // Emscripten rethrows worker errors from the listener, which would crash
    // the process; record the error so initialisation can fail cleanly.
    return super.on(event, (e: unknown) => {
      workerError = e instanceof Error ? e : new Error(String(e));
      onWorkerError?.(workerError);
      try {
        listener(e);
      } catch {
        /* recorded above */
      }
    });
  }
}

/** Makes every `new Worker(...)` in emscripten's glue use PthreadWorker (idempotent). */
function installWorkerShim(): void {
  if (installed) return;
  Object.defineProperty(globalThis, 'Worker', {
    configurable: true,
    enumerable: false,
    get: () => PthreadWorker,
    // Emscripten assigns `global.Worker = worker_threads.Worker` on start-up: keep ours.
    set: () => {},
  });
  installed = true;
}

/**
 * Runs `init` (which must start the wasm backend) with the threaded build
 * enabled for `threads` threads. Throws if the build cannot be used here.
 */
export async function withWasmThreads<T>(threads: number, init: () => Promise<T>, timeoutMs = 60_000): Promise<T> {
  if (!runtimeSupportsWasmThreads()) throw new Error('this Node has no SharedArrayBuffer / wasm atomics');
  threadFiles();
  checkGlueMatchesBundle();
  installWorkerShim();
  workerError = null;
  const realCpus = os.cpus;
  const fakeCount = 2 * threads;
  // emscripten_num_logical_cores() reads os.cpus().length once, while the
  // module's C++ globals are constructed during init.
  const patched = () => {
    const c = realCpus();
    return Array.from({ length: fakeCount }, (_, i) => c[i % Math.max(1, c.length)]!);
  };
  const osMutable = require('node:os') as { cpus: typeof os.cpus };
  osMutable.cpus = patched;
  let timer: NodeJS.Timeout | undefined;
  try {
    // A worker that fails to load never reports "loaded", and the module's
    // start-up would wait for it forever: fail on the first worker error, or
    // after a generous timeout.
    const failed = new Promise<never>((_, reject) => {
      onWorkerError = (e) => reject(new Error(`a wasm pthread worker failed: ${e.message.split('\n')[0]}`));
      timer = setTimeout(() => reject(new Error(`the threaded wasm build did not start within ${timeoutMs / 1000} s`)), timeoutMs);
    });
    const result = await Promise.race([init(), failed]);
    if (workerError) throw workerError;
    return result;
  } finally {
    if (timer) clearTimeout(timer);
    onWorkerError = null;
    osMutable.cpus = realCpus;
  }
}

interface EmscriptenPThread {
  unusedWorkers: NodeWorker[];
  runningWorkers: NodeWorker[];
}

/**
 * After the backend started: terminates the pre-spawned workers the pool did
 * not take (emscripten spawns 8; a pool of n threads runs n − 1 of them).
 * Emscripten spawns a fresh worker if a thread is ever created later.
 */
export function trimIdleWorkers(wasmModule: unknown): { running: number; terminated: number } {
  const pthread = (wasmModule as { PThread?: EmscriptenPThread } | null)?.PThread;
  if (!pthread) return { running: 0, terminated: 0 };
  const idle = pthread.unusedWorkers.splice(0);
  for (const w of idle) void w.terminate();
  return { running: pthread.runningWorkers.length, terminated: idle.length };
}

/** How many pthread workers this process currently has alive (for tests). */
export function liveWorkerCount(): number {
  return spawned.size;
}
