/** Registers hemlock's own kernels on the wasm backend (filled in by the kernels work). */
export function registerWasmKernels(): void {}
