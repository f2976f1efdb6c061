import { tf, type Tensor, type Variable } from '../engine/tf.js';
import { Rng } from '../engine/rng.js';
import { buildModel } from '../models/registry.js';
import { mlpHead } from '../models/heads.js';
import { disposeModule, type Params } from '../models/module.js';
import { Optimizer } from '../train/optimizers.js';
import { supervisedStep } from '../train/trainer.js';
import { NO_AUGMENT } from '../train/augment.js';
import { crossEntropy } from '../train/losses.js';
import { ntXent } from '../train/ssl/simclr.js';
import { nlbSelection } from './nlbSelection.js';

// NT-Xent lives with SimCLR; re-exported for code that imported it from here.
export { ntXent };

/**
 * The benchmark workloads of shared/bench/WORKLOADS.md, defined as in
 * torch_reference.py (same shapes, optimizers and step contents) so the two
 * can be compared as a ratio measured in the same run.
 */
export interface Workload {
  id: 'W1' | 'W2' | 'W3' | 'W4' | 'W5';
  title: string;
  unit: string;
  /** Items per call of `step` (samples, poisons, or 1 run). */
  itemsPerCall: number;
  warmup: number;
  reps: number;
  setup(): { step: () => Promise<void> | void; dispose: () => void };
}

const CONVNET_S = { architecture: 'convnet-s' as const, inputShape: [28, 28, 1] as [number, number, number], numClasses: 10, head: 'linear' as const, options: {} };

function randomUniform(shape: number[], rng: Rng): Tensor {
  const v = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < v.length; i++) v[i] = rng.next();
  return tf.tensor(v, shape);
}

function randomNormal(shape: number[], rng: Rng): Tensor {
  const v = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < v.length; i++) v[i] = rng.normal();
  return tf.tensor(v, shape);
}

function randomLabels(n: number, k: number, rng: Rng): tf.Tensor1D {
  const v = new Int32Array(n);
  for (let i = 0; i < n; i++) v[i] = rng.int(k);
  return tf.tensor1d(v, 'int32');
}

const sgd = (lr: number) => ({ kind: 'sgd' as const, lr, momentum: 0.9, nesterov: false, weightDecay: 0 });

export const W1: Workload = {
  id: 'W1', title: 'supervised train step, ConvNet-S, batch 128', unit: 'samples/s', itemsPerCall: 128, warmup: 2, reps: 5,
  setup() {
    const rng = new Rng('bench/W1');
    const model = buildModel(CONVNET_S, 0);
    const opt = new Optimizer(sgd(0.1));
    const x = randomUniform([128, 28, 28, 1], rng) as tf.Tensor4D;
    const y = randomLabels(128, 10, rng);
    return {
      step: async () => {
        const loss = supervisedStep(model, opt, x, y, NO_AUGMENT, rng);
        await loss.data();
        loss.dispose();
      },
      dispose: () => { tf.dispose([x, y]); opt.dispose(); disposeModule(model); },
    };
  },
};

export const W2: Workload = {
  id: 'W2', title: 'SimCLR train step, ConvNet-S, batch 256 × 2 views', unit: 'samples/s', itemsPerCall: 256, warmup: 2, reps: 5,
  setup() {
    const rng = new Rng('bench/W2');
    const model = buildModel(CONVNET_S, 0);
    const proj = mlpHead(128, 128, 64, rng.fork('proj'));
    const opt = new Optimizer(sgd(0.1));
    const views = tf.concat([randomUniform([256, 28, 28, 1], rng), randomUniform([256, 28, 28, 1], rng)]);
    const vars = [...Object.values(model.body.params), ...Object.values(proj.params)] as Variable[];
    return {
      step: async () => {
        const loss = tf.tidy(() => {
          const { value, grads } = tf.variableGrads(() => ntXent(proj.apply(model.body.apply(views, { training: true })), 0.5) as tf.Scalar, vars);
          opt.apply(grads, vars);
          return value;
        });
        await loss.data();
        loss.dispose();
      },
      dispose: () => { views.dispose(); opt.dispose(); disposeModule(model); disposeModule(proj); },
    };
  },
};

export const W3: Workload = {
  id: 'W3', title: "gradient-matching step (Witches' Brew), ConvNet-S, 128 poisons", unit: 'poisons/s', itemsPerCall: 128, warmup: 2, reps: 5,
  setup() {
    const rng = new Rng('bench/W3');
    const model = buildModel(CONVNET_S, 0);
    const names = Object.keys(model.params);
    const theta = names.map((k) => model.params[k]!);
    const gradOfParams = (x: Tensor, y: Tensor, create: (p: Params) => Tensor) =>
      tf.grads((...ps: Tensor[]) => create(Object.fromEntries(names.map((k, i) => [k, ps[i]!]))))(theta) as Tensor[];
    const xt = randomUniform([1, 28, 28, 1], rng);
    const yt = tf.tensor1d([3], 'int32');
    const gt = tf.tidy(() => gradOfParams(xt, yt, (p) => crossEntropy(model.apply(xt, { params: p }), yt)));
    const gtNorm = tf.tidy(() => tf.sqrt(tf.addN(gt.map((g) => tf.sum(tf.square(g))))));
    const xp = randomUniform([128, 28, 28, 1], rng);
    const yp = tf.fill([128], 3, 'int32');
    const delta = tf.variable(tf.zerosLike(xp));
    const loss = (d: Tensor) => {
      const xd = tf.add(xp, d);
      const gp = gradOfParams(xd, yp, (p) => crossEntropy(model.apply(xd, { params: p }), yp));
      const dot = tf.addN(gt.map((g, i) => tf.sum(tf.mul(g, gp[i]!))));
      const gpNorm = tf.sqrt(tf.addN(gp.map((g) => tf.sum(tf.square(g)))));
      return tf.sub(1, tf.div(dot, tf.mul(gtNorm, gpNorm))) as tf.Scalar;
    };
    const gradDelta = tf.grad(loss);
    return {
      step: async () => {
        tf.tidy(() => {
          const g = gradDelta(delta);
          delta.assign(tf.sub(delta, tf.mul(tf.sign(g), 0.01)));
        });
        await delta.data();
      },
      dispose: () => { tf.dispose([...gt, gtNorm, xt, yt, xp, yp, delta]); disposeModule(model); },
    };
  },
};

export const W4: Workload = {
  id: 'W4', title: 'linear probe, 60000 × 128 features, 100 full-batch steps', unit: 'runs/s', itemsPerCall: 1, warmup: 1, reps: 3,
  setup() {
    const rng = new Rng('bench/W4');
    const feats = randomNormal([60000, 128], rng) as tf.Tensor2D;
    const y = randomLabels(60000, 10, rng);
    return {
      step: async () => {
        const w = tf.variable(tf.zeros([128, 10]));
        const b = tf.variable(tf.zeros([10]));
        const opt = tf.train.sgd(0.5);
        for (let s = 0; s < 100; s++) {
          tf.tidy(() => {
            const { grads } = tf.variableGrads(() => crossEntropy(tf.add(tf.matMul(feats, w), b), y) as tf.Scalar, [w, b]);
            opt.applyGradients(grads);
          });
        }
        await w.data();
        tf.dispose([w, b]);
        opt.dispose();
      },
      dispose: () => tf.dispose([feats, y]),
    };
  },
};

/**
 * W5: contrastive NLB selection, exact. score(a) = Σ top-M similarities −
 * Σ the next M; the anchor is the argmax and the selection its M nearest
 * neighbours. Rows are processed in chunks so S = ZZᵀ is never materialised.
 */
export function contrastiveSelection(z: tf.Tensor2D, m: number, chunk = 1024): { anchor: number; selected: Int32Array; score: number } {
  const n = z.shape[0];
  let best = -Infinity;
  let bestI = -1;
  for (let s = 0; s < n; s += chunk) {
    const [v, i] = tf.tidy(() => {
      const rows = tf.slice(z, [s, 0], [Math.min(chunk, n - s), -1]);
      const top = tf.topk(tf.matMul(rows, z, false, true), 2 * m).values;
      const score = tf.sub(tf.sum(tf.slice(top, [0, 0], [-1, m]), 1), tf.sum(tf.slice(top, [0, m], [-1, m]), 1));
      return [tf.max(score), tf.argMax(score)];
    });
    const value = v.dataSync()[0]!;
    const index = i.dataSync()[0]!;
    tf.dispose([v, i]);
    if (value > best) {
      best = value;
      bestI = s + index;
    }
  }
  const selected = tf.tidy(() => tf.topk(tf.squeeze(tf.matMul(tf.slice(z, [bestI, 0], [1, -1]), z, false, true)), m).indices);
  const out = selected.dataSync() as Int32Array;
  selected.dispose();
  return { anchor: bestI, selected: out, score: best };
}

export const W5: Workload = {
  id: 'W5', title: 'contrastive NLB selection, N=60000, d=128, M=3600', unit: 'runs/s', itemsPerCall: 1, warmup: 0, reps: 1,
  setup() {
    const rng = new Rng('bench/W5');
    const z = tf.tidy(() => {
      const r = randomNormal([60000, 128], rng);
      return tf.div(r, tf.norm(r, 'euclidean', 1, true));
    }) as tf.Tensor2D;
    // hemlock's exact selection (nlbSelection.ts): same result as contrastiveSelection, no row sorts.
    return { step: () => void nlbSelection(z, 3600), dispose: () => z.dispose() };
  },
};

export const WORKLOADS: Workload[] = [W1, W2, W3, W4, W5];

/**
 * Median seconds per call after warm-up: wall clock, or (clock 'cpu') CPU time
 * of the whole process, which on one thread is what the wall time would be on
 * an idle core and barely moves when other jobs load the machine.
 */
export async function timeWorkload(w: Workload, clock: 'wall' | 'cpu' = 'wall'): Promise<{ perSecond: number; medianSeconds: number; reps: number }> {
  const now = clock === 'cpu' ? () => { const c = process.cpuUsage(); return (c.user + c.system) / 1000; } : () => performance.now();
  const { step, dispose } = w.setup();
  try {
    for (let i = 0; i < w.warmup; i++) await step();
    const times: number[] = [];
    for (let i = 0; i < w.reps; i++) {
      const t0 = now();
      await step();
      times.push((now() - t0) / 1000);
    }
    times.sort((a, b) => a - b);
    const median = times[Math.floor(times.length / 2)]!;
    return { perSecond: w.itemsPerCall / median, medianSeconds: median, reps: w.reps };
  } finally {
    dispose();
  }
}
