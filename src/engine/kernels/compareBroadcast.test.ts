import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../tf.js';
import { initBackend } from '../backend.js';
import { Rng } from '../rng.js';
import { registerWasmKernels } from './index.js';
import { COMPARISONS } from './compareBroadcast.js';

const OPS = {
  Equal: tf.equal,
  NotEqual: tf.notEqual,
  Greater: tf.greater,
  GreaterEqual: tf.greaterEqual,
  Less: tf.less,
  LessEqual: tf.lessEqual,
} as const;

// Values drawn from a small set so that equality is common.
function draw(rng: Rng, n: number, dtype: 'float32' | 'int32'): Float32Array | Int32Array {
  const a = dtype === 'float32' ? new Float32Array(n) : new Int32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.int(4) - 1 + (dtype === 'float32' ? 0.5 : 0);
  return a;
}

const PAIRS: [number[], number[]][] = [
  [[7, 5], [7, 1]],
  [[7, 1], [7, 5]],
  [[7, 5], [5]],
  [[1, 5], [7, 1]],
  [[2, 3, 4], [3, 1]],
  [[2, 1, 4], [1, 3, 1]],
  [[3, 1, 5, 2], [1, 4, 1, 2]],
  [[9, 7], [9, 7]],
  [[9, 7], [1]],
];

function compare(op: keyof typeof OPS, aShape: number[], av: Float32Array | Int32Array, bShape: number[], bv: Float32Array | Int32Array, dtype: 'float32' | 'int32') {
  return tf.tidy(() => {
    const out = OPS[op](tf.tensor(av, aShape, dtype), tf.tensor(bv, bShape, dtype));
    return { shape: out.shape, dtype: out.dtype, values: Array.from(out.dataSync()) };
  });
}

describe('comparisons with broadcasting on wasm (hemlock wrapper)', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  it('wraps every comparison kernel on wasm, idempotently', () => {
    const before = Object.keys(COMPARISONS).map((k) => tf.getKernel(k, 'wasm')?.kernelFunc);
    registerWasmKernels();
    const after = Object.keys(COMPARISONS).map((k) => tf.getKernel(k, 'wasm')?.kernelFunc);
    expect(after).toEqual(before);
  });

  for (const op of Object.keys(OPS) as (keyof typeof OPS)[]) {
    for (const [i, [aShape, bShape]] of PAIRS.entries()) {
      for (const dtype of ['float32', 'int32'] as const) {
        it(`${op} ${JSON.stringify(aShape)} vs ${JSON.stringify(bShape)} ${dtype} matches cpu`, async () => {
          const rng = new Rng(`cmp-${op}-${i}-${dtype}`);
          const av = draw(rng, aShape.reduce((p, q) => p * q, 1), dtype);
          const bv = draw(rng, bShape.reduce((p, q) => p * q, 1), dtype);
          await tf.setBackend('cpu');
          const want = compare(op, aShape, av, bShape, bv, dtype);
          await tf.setBackend('wasm');
          const got = compare(op, aShape, av, bShape, bv, dtype);
          expect(got).toEqual(want);
        });
      }
    }
  }

  it('follows IEEE semantics for NaN and infinities', async () => {
    const a = [NaN, Infinity, -Infinity, 0, -0, 1];
    const run = () =>
      tf.tidy(() => {
        const x = tf.tensor2d([...a, ...a], [2, 6]);
        const y = tf.tensor2d([NaN, Infinity], [2, 1]);
        return [tf.equal(x, y), tf.notEqual(x, y), tf.less(x, y), tf.greaterEqual(x, y)].map((t) => Array.from(t.dataSync()));
      });
    await tf.setBackend('cpu');
    const want = run();
    await tf.setBackend('wasm');
    expect(run()).toEqual(want);
  });
});
