/** Registers gradients tfjs lacks (filled in by the gradients work). */
export function registerGradients(): void {}
