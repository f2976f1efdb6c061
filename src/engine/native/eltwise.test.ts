/**
 * The native element-wise and reduction kernels (Exp, Relu, Add/Sub/Multiply
 * with broadcasting, Sum/Mean/Max over contiguous axis ranges, float32
 * comparisons)
 * and the small-N GEMM path, against the cpu backend on random shapes with
 * odd sizes, on 1 and 2 pool threads (sizes above the parallel thresholds
 * reach the splits); no tensor leaks; the W4 loss gradient. The kernel
 * tests skip when the addon is not built or HEMLOCK_NATIVE=0; the
 * broadcast-plan tests (pure JS) always run.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../tf.js';
import { initBackend } from '../backend.js';
import { Rng } from '../rng.js';
import { crossEntropy } from '../../train/losses.js';
import { loadNative, setNativeEnabled, setNativeThreads, wantedNativeThreads } from './loader.js';
import { broadcastPlan, nativeCalls } from './kernels.js';
import { randn, relErr, size } from '../../testing/kernelCases.js';

const native = loadNative().loaded;

/** Element-wise: |got - want| <= 1e-4 |want| (+ 1e-30 for denormals), NaN where cpu has NaN, equal infinities. */
function expectClose(got: ArrayLike<number>, want: ArrayLike<number>): void {
  expect(got.length).toBe(want.length);
  let bad = -1;
  for (let i = 0; i < want.length && bad < 0; i++) {
    const g = got[i]!;
    const w = want[i]!;
    if (Number.isNaN(w) ? !Number.isNaN(g) : !Number.isFinite(w) ? g !== w : !(Math.abs(g - w) <= 1e-4 * Math.abs(w) + 1e-30)) bad = i;
  }
  expect(bad < 0 ? 'ok' : `index ${bad}: got ${got[bad]}, want ${want[bad]}`).toBe('ok');
}

/** For sums: max abs error relative to the largest |value| (sums of random signs cancel element-wise). */
function expectRelErr(got: ArrayLike<number>, want: ArrayLike<number>): void {
  expect(relErr(got, want)).toBeLessThan(1e-4);
}

type Counter = keyof typeof nativeCalls;

/** f on cpu, then on wasm; the result shapes and how many native calls of `kernel` the wasm run made. */
async function both<T extends { shape: number[]; values: number[] }>(f: () => T, kernel: Counter): Promise<{ want: T; got: T; calls: number }> {
  await tf.setBackend('cpu');
  const want = f();
  await tf.setBackend('wasm');
  const before = nativeCalls[kernel];
  const got = f();
  expect(got.shape).toEqual(want.shape);
  return { want, got, calls: nativeCalls[kernel] - before };
}

const out = (t: tf.Tensor) => ({ shape: t.shape, dtype: t.dtype, values: Array.from(t.dataSync()) });

describe('broadcastPlan (merges axes so inner runs are long)', () => {
  it('same shapes become one contiguous run', () => {
    expect(broadcastPlan([3, 4, 5], [3, 4, 5], [3, 4, 5])).toEqual({ shape: [60], sa: [1], sb: [1] });
  });
  it('[R,C] with [R,1] and with [C]', () => {
    expect(broadcastPlan([6, 10], [6, 1], [6, 10])).toEqual({ shape: [6, 10], sa: [10, 1], sb: [1, 0] });
    expect(broadcastPlan([6, 10], [10], [6, 10])).toEqual({ shape: [6, 10], sa: [10, 1], sb: [0, 1] });
  });
  it('drops size-1 axes and merges runs of broadcast axes', () => {
    expect(broadcastPlan([2, 1, 3, 4], [1, 1, 1, 4], [2, 1, 3, 4])).toEqual({ shape: [6, 4], sa: [4, 1], sb: [0, 1] });
    expect(broadcastPlan([1], [1, 1], [1, 1])).toEqual({ shape: [1], sa: [0], sb: [0] });
    expect(broadcastPlan([], [3, 2], [3, 2])).toEqual({ shape: [6], sa: [0], sb: [1] });
  });
});

const BINARY = { Add: tf.add, Sub: tf.sub, Multiply: tf.mul } as const;
// Odd sizes, scalars, broadcasting on either side and on inner/middle axes,
// and W4's shapes (60001 rows: above the parallel threshold, not a multiple of it).
const PAIRS: [number[], number[]][] = [
  [[7], [7]],
  [[], [5, 3]],
  [[5, 3], [5, 1]],
  [[5, 1], [5, 3]],
  [[5, 3], [3]],
  [[1, 17], [13, 1]],
  [[2, 1, 3], [1, 4, 1]],
  [[3, 1, 5, 1], [1, 4, 1, 6]],
  [[2, 3, 5, 7], [7]],
  [[60001, 10], [60001, 1]],
  [[60001, 10], [10]],
  [[4099, 33], [4099, 33]],
];

const REDUCTIONS: [number[], number[]][] = [
  [[17], [0]],
  [[60001, 10], [1]],
  [[60001, 10], [0]],
  [[3, 5, 7, 9], [3]],
  [[3, 5, 7, 9], [1, 2]],
  [[3, 5, 7, 9], [0, 1, 2]],
  [[3, 5, 7, 9], [0]],
  [[33, 29, 31, 13], [0, 1, 2]], // bias-gradient shape, above the parallel threshold
  [[1, 1, 7], [0, 1]],
];

for (const threads of [1, 2]) {
  describe.skipIf(!native)(`native element-wise kernels, ${threads} thread${threads > 1 ? 's' : ''}`, () => {
    beforeAll(async () => {
      await initBackend('wasm');
      setNativeEnabled(true);
      setNativeThreads(threads);
    });
    afterAll(() => {
      setNativeThreads(wantedNativeThreads());
    });

    it('Exp equals cpu, including NaN, +-Inf, overflow and underflow', async () => {
      const rng = new Rng(`nexp-${threads}`);
      for (const shape of [[1], [17], [3, 5, 7], [60001, 10]]) {
        const v = randn(rng, size(shape), 10);
        const special = [NaN, Infinity, -Infinity, 0, -0, 88.7, 88.8, -87.3, -103.9, -104.5, 1e-8, -1e-8];
        for (let i = 0; i < Math.min(special.length, v.length); i++) v[(i * 7919) % v.length] = special[i]!;
        const r = await both(() => tf.tidy(() => out(tf.exp(tf.tensor(v, shape)))), 'Exp');
        expect(r.calls).toBe(1);
        expectClose(r.got.values, r.want.values);
      }
    });

    it('Relu equals cpu, NaN and -0 included (-0 -> +0, as Math.max(0, x))', async () => {
      const rng = new Rng(`nrelu-${threads}`);
      for (const shape of [[1], [31], [128, 7, 7, 5], [70001]]) {
        const v = randn(rng, size(shape));
        v[0] = NaN;
        if (v.length > 2) v[1] = -0;
        const r = await both(() => tf.tidy(() => out(tf.relu(tf.tensor(v, shape)))), 'Relu');
        expect(r.calls).toBe(1);
        expect(r.got.values).toEqual(r.want.values); // exact, Object.is-equal for -0 and NaN
      }
    });

    it('Mean over contiguous axis ranges (global average pooling) equals cpu', async () => {
      const rng = new Rng(`nmean-${threads}`);
      for (const [shape, axes] of [...REDUCTIONS, [[33, 7, 7, 129], [1, 2]] as [number[], number[]]]) {
        const v = randn(rng, size(shape));
        for (const keepDims of [false, true]) {
          const r = await both(() => tf.tidy(() => out(tf.mean(tf.tensor(v, shape), axes, keepDims))), 'Mean');
          expect(r.calls).toBe(1);
          expectRelErr(r.got.values, r.want.values);
        }
      }
    });

    for (const name of Object.keys(BINARY) as (keyof typeof BINARY)[]) {
      it(`${name} with broadcasting equals cpu`, async () => {
        const rng = new Rng(`nbin-${name}-${threads}`);
        for (const [as, bs] of PAIRS) {
          const av = randn(rng, size(as));
          const bv = randn(rng, size(bs));
          av[0] = NaN; // IEEE propagation
          const r = await both(() => tf.tidy(() => out(BINARY[name](tf.tensor(av, as), tf.tensor(bv, bs)))), name);
          expect(r.calls).toBe(1);
          expectClose(r.got.values, r.want.values);
        }
      });
    }

    it('int32 Add stays on the built-in kernel', async () => {
      const r = await both(() => tf.tidy(() => out(tf.add(tf.tensor([1, 2, 3], [3], 'int32'), tf.tensor([4], [1], 'int32')))), 'Add');
      expect(r.calls).toBe(0);
      expect(r.got).toEqual(r.want);
    });

    for (const keepDims of [false, true]) {
      it(`Sum and Max over contiguous axis ranges equal cpu (keepDims=${keepDims})`, async () => {
        const rng = new Rng(`nred-${keepDims}-${threads}`);
        for (const [shape, axes] of REDUCTIONS) {
          const v = randn(rng, size(shape));
          const s = await both(() => tf.tidy(() => out(tf.sum(tf.tensor(v, shape), axes, keepDims))), 'Sum');
          expect(s.calls).toBe(1);
          expectRelErr(s.got.values, s.want.values);
          const m = await both(() => tf.tidy(() => out(tf.max(tf.tensor(v, shape), axes, keepDims))), 'Max');
          expect(m.calls).toBe(1);
          expect(m.got.values).toEqual(m.want.values); // max is exact
        }
      });
    }

    it('Max propagates NaN and handles -Inf like cpu; non-contiguous axes use the fallback', async () => {
      const v = new Float32Array([1, NaN, 3, -Infinity, -Infinity, -Infinity, 2, 5, NaN, 0, -1, 4]);
      for (const axes of [[1], [0], [0, 1]]) {
        const r = await both(() => tf.tidy(() => out(tf.max(tf.tensor(v, [4, 3]), axes))), 'Max');
        expect(r.calls).toBe(1);
        expect(r.got.values).toEqual(r.want.values);
      }
      const w = randn(new Rng('nred-nc'), 2 * 3 * 4);
      const r = await both(() => tf.tidy(() => out(tf.sum(tf.tensor(w, [2, 3, 4]), [0, 2]))), 'Sum');
      expect(r.calls).toBe(0);
      expectRelErr(r.got.values, r.want.values);
    });

    it('float32 comparisons with and without broadcasting equal cpu, NaN included', async () => {
      const rng = new Rng(`ncmp-${threads}`);
      const OPS = { Equal: tf.equal, NotEqual: tf.notEqual, Greater: tf.greater, GreaterEqual: tf.greaterEqual, Less: tf.less, LessEqual: tf.lessEqual } as const;
      const draw = (n: number) => {
        const a = new Float32Array(n);
        for (let i = 0; i < n; i++) a[i] = rng.int(4) - 1.5; // few values: equality is common
        a[0] = NaN;
        return a;
      };
      for (const op of Object.keys(OPS) as (keyof typeof OPS)[]) {
        for (const [as, bs] of [...PAIRS, [[7, 5], [1]] as [number[], number[]]]) {
          const av = draw(size(as));
          const bv = draw(size(bs));
          const r = await both(() => tf.tidy(() => out(OPS[op](tf.tensor(av, as), tf.tensor(bv, bs)))), 'Compare');
          const scalarOrSame = size(as) === 1 || size(bs) === 1 || as.join() === bs.join();
          // Same shapes and scalars: the built-in (fast there) or native; both must equal cpu.
          if (!scalarOrSame) expect(r.calls).toBe(1);
          expect(r.got.values).toEqual(r.want.values);
          expect((r.got as unknown as { dtype: string }).dtype).toBe('bool');
        }
      }
    });

    // Small-N products: N <= 16 takes the dedicated path (both orientations of A, either B).
    const SMALL_N: [number, number, number][] = [
      [2501, 128, 10], // W4's forward shape, scaled; above the M-split threshold
      [128, 6001, 10], // W4's weight gradient (K long): the K split on 2 threads
      [31, 1000, 16],
      [130, 17, 15],
      [1, 5000, 1],
      [3, 2000, 14],
      [17, 33, 3],
    ];
    for (const [m, k, n] of SMALL_N) {
      for (const [tA, tB] of [[false, false], [true, false], [false, true], [true, true]] as const) {
        it(`small-N BatchMatMul M=${m} K=${k} N=${n} tA=${tA} tB=${tB}`, async () => {
          const rng = new Rng(`nsmall-${m}-${k}-${n}-${tA}-${tB}`);
          const av = randn(rng, m * k);
          const bv = randn(rng, k * n);
          const r = await both(() => tf.tidy(() => out(tf.matMul(tf.tensor(av, tA ? [k, m] : [m, k]), tf.tensor(bv, tB ? [n, k] : [k, n]), tA, tB))), 'BatchMatMul');
          expect(r.calls).toBe(1);
          expectRelErr(r.got.values, r.want.values);
        });
      }
    }

    it('the W4 loss and its gradients equal cpu, through the native kernels', async () => {
      const rng = new Rng(`nw4-${threads}`);
      const [n, d, c] = [3001, 33, 10];
      const fv = randn(rng, n * d);
      const wv = randn(rng, d * c, 0.3);
      const bv = randn(rng, c, 0.3);
      const labels = new Int32Array(n).map(() => rng.int(c));
      const run = () =>
        tf.tidy(() => {
          const feats = tf.tensor(fv, [n, d]);
          const y = tf.tensor1d(labels, 'int32');
          const f = (w: tf.Tensor, b: tf.Tensor) => crossEntropy(tf.add(tf.matMul(feats, w), b), y);
          const { value, grads } = tf.valueAndGrads(f)([tf.tensor(wv, [d, c]), tf.tensor(bv, [c])]);
          return { shape: [], values: [...value.dataSync(), ...grads[0]!.dataSync(), ...grads[1]!.dataSync()] };
        });
      const before = { ...nativeCalls };
      const r = await both(run, 'Exp');
      expect(r.calls).toBeGreaterThanOrEqual(1);
      for (const k of ['BatchMatMul', 'Add', 'Sub', 'Multiply', 'Sum', 'Max', 'Compare'] as const) expect(nativeCalls[k]).toBeGreaterThan(before[k]);
      expectRelErr(r.got.values, r.want.values);
    });

    it('leaks no tensors or backend data over repeated calls', async () => {
      await tf.setBackend('wasm');
      const rng = new Rng('nleak');
      const a = tf.tensor(randn(rng, 301 * 10), [301, 10]);
      const b = tf.tensor(randn(rng, 301), [301, 1]);
      const w = tf.tensor(randn(rng, 10 * 3), [10, 3]);
      const once = () =>
        tf.tidy(() => {
          const e = tf.relu(tf.exp(tf.sub(a, b)));
          const m = tf.mul(tf.add(e, b), tf.cast(tf.equal(a, tf.max(a, -1, true)), 'float32'));
          return tf.sum(tf.add(tf.mean(m, 0), tf.sum(tf.matMul(m, w), -1).sum())).dataSync();
        });
      once();
      const tensors = tf.memory().numTensors;
      const ids = tf.backend().numDataIds();
      for (let i = 0; i < 20; i++) once();
      expect(tf.memory().numTensors).toBe(tensors);
      expect(tf.backend().numDataIds()).toBe(ids);
      tf.dispose([a, b, w]);
    });

    it('switching native off at run time gives the same results (the wasm fallbacks)', async () => {
      await tf.setBackend('wasm');
      const rng = new Rng('nfallback');
      const av = randn(rng, 513 * 10);
      const bv = randn(rng, 513);
      const run = () => tf.tidy(() => {
        const a = tf.tensor(av, [513, 10]);
        const b = tf.tensor(bv, [513, 1]);
        return [...tf.relu(tf.exp(tf.mul(a, b))).dataSync(), ...tf.mean(a, 0).dataSync(), ...tf.sum(tf.sub(a, b), 0).dataSync(), ...tf.max(a, -1).dataSync(), ...tf.equal(a, tf.max(a, -1, true)).dataSync()];
      });
      const on = run();
      setNativeEnabled(false);
      try {
        expectClose(run(), on);
      } finally {
        setNativeEnabled(true);
      }
    });
  });
}
