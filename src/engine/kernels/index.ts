import { registerConv2DBackpropFilterWasm } from './conv2dBackpropFilter.js';
import { registerConv2DBackpropInputWasm } from './conv2dBackpropInput.js';
import { registerBatchMatMulWasm } from './batchMatMul.js';
import { registerSumWasm } from './sum.js';
import { registerCompareBroadcastWasm } from './compareBroadcast.js';
import { registerIdentityWasm } from './identity.js';
import { registerConv2DNativeWasm, registerEltwiseNativeWasm } from '../native/kernels.js';
import { loadNative } from '../native/loader.js';

/**
 * Registers hemlock's own kernels on the wasm backend: `Conv2DBackpropFilter`
 * (missing from tfjs-backend-wasm) and a faster `Conv2DBackpropInput` (replacing
 * the built-in naive loop), plus wrappers of built-in kernels that send their
 * slow cases to fast paths: `BatchMatMul` with a transposed operand, `Sum`
 * over leading axes, comparisons with broadcasting, and a copy-free
 * `Identity` (measurements in each file and docs/performance.md). Idempotent:
 * calling it again changes nothing. Safe to call before the wasm backend is
 * initialised (kernels are looked up by name when an op runs; the wrappers
 * carry the built-ins' setup functions).
 *
 * Native kernels (src/engine/native/, optional C++ addon): loaded here once;
 * when present and not disabled by HEMLOCK_NATIVE=0, BatchMatMul, Conv2D,
 * Conv2DBackpropInput and Conv2DBackpropFilter run on it, and the kernels
 * above are their fallback; so do Exp, Add, Sub, Multiply and last-axis
 * Sum (the built-ins are the fallback).
 */
export function registerWasmKernels(): void {
  registerConv2DBackpropFilterWasm();
  registerConv2DBackpropInputWasm();
  // Wrappers of built-in kernels that route slow cases to fast ones (see each file).
  registerBatchMatMulWasm();
  registerSumWasm();
  registerCompareBroadcastWasm();
  registerIdentityWasm();
  loadNative();
  registerConv2DNativeWasm();
  registerEltwiseNativeWasm();
}
