import { registerConv2DBackpropFilterWasm } from './conv2dBackpropFilter.js';
import { registerConv2DBackpropInputWasm } from './conv2dBackpropInput.js';

/**
 * Registers hemlock's own kernels on the wasm backend: `Conv2DBackpropFilter`
 * (missing from tfjs-backend-wasm) and a faster `Conv2DBackpropInput` (replacing
 * the built-in naive loop). Idempotent: calling it again changes nothing. Safe
 * to call before the wasm backend is initialised (kernels are looked up by name
 * when an op runs).
 */
export function registerWasmKernels(): void {
  registerConv2DBackpropFilterWasm();
  registerConv2DBackpropInputWasm();
}
