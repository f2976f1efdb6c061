/**
 * The single import point for TensorFlow.js inside hemlock. `@tensorflow/tfjs`
 * brings tfjs-core with every gradient registered and the cpu backend; the
 * wasm backend registers itself on import. Everything else imports `tf` from here
 * so that exactly one tfjs-core instance is ever in play.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';

export { tf };
export type { Tensor, Tensor1D, Tensor2D, Tensor3D, Tensor4D, Variable, Rank, NamedTensorMap } from '@tensorflow/tfjs';
