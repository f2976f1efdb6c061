import { registerConv2DBackpropFilterGrad } from './conv2dBackpropFilterGrad.js';
import { registerEqualGrad } from './equalGrad.js';
import { registerExpGrad } from './expGrad.js';

/**
 * Registers the gradients hemlock's second-order path (Witches' Brew gradient
 * matching through a conv net with a cross-entropy built from basic ops) needs
 * and tfjs 4.22 lacks or gets wrong:
 *   - Conv2DBackpropFilter: not registered by tfjs (conv2dBackpropFilterGrad.ts);
 *   - Equal: not registered; reached through tfjs's gradient of Max (equalGrad.ts);
 *   - Exp: registered by tfjs but wrong when differentiated again; replaced (expGrad.ts).
 * Idempotent: calling it again changes nothing.
 */
export function registerGradients(): void {
  registerConv2DBackpropFilterGrad();
  registerEqualGrad();
  registerExpGrad();
}
