import { tf, type Tensor1D, type Tensor2D } from '../../engine/tf.js';
import type { FeatureSet } from './features.js';

/**
 * The T1 victim: a linear head h(z) = zW + b trained on frozen features by
 * full-batch L-BFGS on the convex objective
 *
 *   L(W, b) = (1/M) Σ_i CE(z_i W + b, y_i) + (λ/2)‖W‖²_F        (bias not decayed)
 *
 * from W = 0, b = 0, so the same features give the same head (deterministic;
 * no seed). With λ > 0 the minimiser is unique, which is what a model-targeted
 * attack such as gradient canceling relies on: a poisoned set that makes the
 * target parameters a stationary point makes them *the* solution.
 *
 * This lives beside the T1 attacks because they need the exact victim
 * objective (its gradient, its λ). If src/train/probe.ts provides the same
 * thing later, this module should delegate to it.
 */

export interface HeadWeights {
  /** dim × numClasses, row-major. */
  w: Float32Array;
  b: Float32Array;
  dim: number;
  numClasses: number;
}

export interface ProbeConfig {
  /** λ of the (λ/2)‖W‖² penalty. */
  l2: number;
  maxIter: number;
  /** Stop when the largest gradient entry is below this. */
  tolerance: number;
  /** L-BFGS history size. */
  memory: number;
}

export const DEFAULT_PROBE: ProbeConfig = { l2: 1e-3, maxIter: 300, tolerance: 1e-5, memory: 10 };

export interface ProbeResult {
  head: HeadWeights;
  iterations: number;
  loss: number;
  gradMax: number;
  converged: boolean;
}

export function zeroHead(dim: number, numClasses: number): HeadWeights {
  return { w: new Float32Array(dim * numClasses), b: new Float32Array(numClasses), dim, numClasses };
}

export function cloneHead(h: HeadWeights): HeadWeights {
  return { w: h.w.slice(), b: h.b.slice(), dim: h.dim, numClasses: h.numClasses };
}

export function headTensors(h: HeadWeights): { w: Tensor2D; b: Tensor1D } {
  return { w: tf.tensor2d(h.w, [h.dim, h.numClasses]), b: tf.tensor1d(h.b) };
}

/** Flat parameter vector [W row-major, b]. */
export function flattenHead(h: HeadWeights): Float64Array {
  const v = new Float64Array(h.w.length + h.b.length);
  v.set(h.w, 0);
  v.set(h.b, h.w.length);
  return v;
}

export function unflattenHead(v: ArrayLike<number>, dim: number, numClasses: number): HeadWeights {
  const n = dim * numClasses;
  const w = new Float32Array(n);
  const b = new Float32Array(numClasses);
  for (let i = 0; i < n; i++) w[i] = v[i]!;
  for (let k = 0; k < numClasses; k++) b[k] = v[n + k]!;
  return { w, b, dim, numClasses };
}

/**
 * Per-sample gradient pieces of CE(zW + b, y) for a linear head, summed:
 *   ∂/∂W = Zᵀ(P − Y),  ∂/∂b = 1ᵀ(P − Y),  P = softmax(ZW + b), Y one-hot.
 * Differentiable in Z (used by gradient canceling). Inputs are tensors the caller owns.
 */
export function linearHeadGradSum(z: Tensor2D, onehot: Tensor2D, w: Tensor2D, b: Tensor1D): { gw: Tensor2D; gb: Tensor1D } {
  return tf.tidy(() => {
    const r = tf.sub(tf.softmax(tf.add(tf.matMul(z, w), b)), onehot) as Tensor2D;
    return { gw: tf.matMul(z, r, true, false) as Tensor2D, gb: tf.sum(r, 0) as Tensor1D };
  });
}

/** Summed cross-entropy of a linear head on a feature batch (tensors owned by the caller). */
export function linearHeadLossSum(z: Tensor2D, onehot: Tensor2D, w: Tensor2D, b: Tensor1D): tf.Scalar {
  return tf.tidy(() => {
    const logits = tf.add(tf.matMul(z, w), b);
    return tf.sum(tf.sub(tf.logSumExp(logits, -1), tf.sum(tf.mul(onehot, logits), -1))) as tf.Scalar;
  });
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

/**
 * The probe objective and its gradient at a flat parameter vector, for a
 * feature set held as tensors. Returns plain numbers (float64 copies).
 */
export class ProbeObjective {
  private readonly z: Tensor2D;
  private readonly onehot: Tensor2D;
  readonly count: number;

  constructor(readonly features: FeatureSet, readonly numClasses: number, readonly l2: number) {
    this.count = features.count;
    this.z = tf.tensor2d(features.z, [features.count, features.dim]);
    this.onehot = tf.tidy(() => tf.oneHot(tf.tensor1d(features.labels, 'int32'), numClasses).toFloat() as Tensor2D);
  }

  evaluate(theta: Float64Array): { loss: number; grad: Float64Array } {
    const { dim } = this.features;
    const k = this.numClasses;
    const h = unflattenHead(theta, dim, k);
    const [lossT, gwT, gbT] = tf.tidy(() => {
      const { w, b } = headTensors(h);
      const loss = tf.add(tf.div(linearHeadLossSum(this.z, this.onehot, w, b), this.count), tf.mul(tf.sum(tf.square(w)), this.l2 / 2));
      const { gw, gb } = linearHeadGradSum(this.z, this.onehot, w, b);
      return [loss, tf.add(tf.div(gw, this.count), tf.mul(w, this.l2)), tf.div(gb, this.count)];
    });
    const loss = lossT.dataSync()[0]!;
    const grad = new Float64Array(theta.length);
    grad.set(gwT.dataSync(), 0);
    grad.set(gbT.dataSync(), dim * k);
    tf.dispose([lossT, gwT, gbT]);
    return { loss, grad };
  }

  dispose(): void {
    tf.dispose([this.z, this.onehot]);
  }
}

/**
 * Minimises the probe objective with L-BFGS (two-loop recursion, Armijo
 * backtracking). Deterministic: no randomness anywhere. The search runs in
 * coordinates scaled by the inverse square root of the Hessian diagonal at
 * zero (θ_j = φ_j / √H_jj): a change of variables that leaves the objective
 * and its minimiser as they are but conditions unnormalised encoder
 * features (some dimensions ≫ others, some dead) far better.
 */
export function trainLinearProbe(features: FeatureSet, numClasses: number, cfg: Partial<ProbeConfig> = {}, init?: HeadWeights): ProbeResult {
  const c = { ...DEFAULT_PROBE, ...cfg };
  const { dim } = features;
  const obj = new ProbeObjective(features, numClasses, c.l2);
  // θ = scale ⊙ φ: Jacobi scaling by the diagonal of the objective's Hessian
  // at W = 0, b = 0 (softmax variance (K−1)/K² times E[z_k²], plus λ).
  const v = (numClasses - 1) / (numClasses * numClasses);
  const scale = new Float64Array(dim * numClasses + numClasses).fill(1 / Math.sqrt(v));
  for (let k = 0; k < dim; k++) {
    let ss = 0;
    for (let i = 0; i < features.count; i++) ss += features.z[i * dim + k]! ** 2;
    const h = (v * ss) / Math.max(1, features.count) + c.l2;
    for (let j = 0; j < numClasses; j++) scale[k * numClasses + j] = h > 1e-12 ? 1 / Math.sqrt(h) : 1;
  }
  const toTheta = (phi: Float64Array) => phi.map((v, j) => v * scale[j]!);
  const evaluate = (phi: Float64Array) => {
    const { loss, grad } = obj.evaluate(toTheta(phi));
    for (let j = 0; j < grad.length; j++) grad[j] = grad[j]! * scale[j]!;
    return { loss, grad };
  };
  try {
    let x = init ? flattenHead(init).map((v, j) => v / scale[j]!) : new Float64Array(scale.length);
    let { loss: f, grad: g } = evaluate(x);
    const S: Float64Array[] = [];
    const Y: Float64Array[] = [];
    const rho: number[] = [];
    let it = 0;
    // Convergence is judged on the gradient in the original coordinates.
    const gradMaxTheta = (gphi: Float64Array) => {
      let m = 0;
      for (let j = 0; j < gphi.length; j++) m = Math.max(m, Math.abs(gphi[j]! / scale[j]!));
      return m;
    };
    let converged = gradMaxTheta(g) < c.tolerance;
    for (; it < c.maxIter && !converged; it++) {
      // Two-loop recursion: d = −H g.
      const q = Float64Array.from(g);
      const alpha = new Array<number>(S.length);
      for (let i = S.length - 1; i >= 0; i--) {
        alpha[i] = rho[i]! * dot(S[i]!, q);
        for (let j = 0; j < q.length; j++) q[j] -= alpha[i]! * Y[i]![j]!;
      }
      const gamma = S.length ? dot(S.at(-1)!, Y.at(-1)!) / dot(Y.at(-1)!, Y.at(-1)!) : 1 / Math.max(1, Math.sqrt(dot(g, g)));
      for (let j = 0; j < q.length; j++) q[j] *= gamma;
      for (let i = 0; i < S.length; i++) {
        const beta = rho[i]! * dot(Y[i]!, q);
        for (let j = 0; j < q.length; j++) q[j] += S[i]![j]! * (alpha[i]! - beta);
      }
      let d = q.map((v) => -v);
      let gd = dot(g, d);
      if (!(gd < 0)) {
        d = g.map((v) => -v);
        gd = dot(g, d);
        S.length = 0;
        Y.length = 0;
        rho.length = 0;
      }
      // Armijo backtracking.
      let t = 1;
      let accepted = false;
      let xNew = x;
      let fNew = f;
      let gNew = g;
      for (let ls = 0; ls < 40; ls++) {
        xNew = x.map((v, j) => v + t * d[j]!);
        ({ loss: fNew, grad: gNew } = evaluate(xNew));
        if (Number.isFinite(fNew) && fNew <= f + 1e-4 * t * gd) {
          accepted = true;
          break;
        }
        t *= 0.5;
      }
      if (!accepted) break; // no decrease representable in float32: at the optimum to working precision
      const s = xNew.map((v, j) => v - x[j]!);
      const yv = gNew.map((v, j) => v - g[j]!);
      const sy = dot(s, yv);
      if (sy > 1e-12) {
        S.push(s);
        Y.push(yv);
        rho.push(1 / sy);
        if (S.length > c.memory) {
          S.shift();
          Y.shift();
          rho.shift();
        }
      }
      x = xNew;
      f = fNew;
      g = gNew;
      converged = gradMaxTheta(g) < c.tolerance;
    }
    return { head: unflattenHead(toTheta(x), dim, numClasses), iterations: it, loss: f, gradMax: gradMaxTheta(g), converged };
  } finally {
    obj.dispose();
  }
}

/** Predicted class of every feature row. */
export function predictHead(h: HeadWeights, z: Float32Array, batch = 4096): Int32Array {
  const n = z.length / h.dim;
  const out = new Int32Array(n);
  const { w, b } = headTensors(h);
  try {
    for (let s = 0; s < n; s += batch) {
      const e = Math.min(n, s + batch);
      const p = tf.tidy(() => tf.argMax(tf.add(tf.matMul(tf.tensor2d(z.subarray(s * h.dim, e * h.dim), [e - s, h.dim]), w), b), -1));
      out.set(p.dataSync() as Int32Array, s);
      p.dispose();
    }
  } finally {
    tf.dispose([w, b]);
  }
  return out;
}

export function headAccuracy(h: HeadWeights, f: FeatureSet): number {
  const p = predictHead(h, f.z);
  let ok = 0;
  for (let i = 0; i < p.length; i++) if (p[i] === f.labels[i]) ok++;
  return p.length ? ok / p.length : NaN;
}

/** Concatenates feature sets (same dim). */
export function concatFeatures(a: FeatureSet, b: FeatureSet): FeatureSet {
  if (a.dim !== b.dim) throw new RangeError(`concatFeatures: dims ${a.dim} and ${b.dim}`);
  const z = new Float32Array(a.z.length + b.z.length);
  z.set(a.z, 0);
  z.set(b.z, a.z.length);
  const labels = new Int32Array(a.count + b.count);
  labels.set(a.labels, 0);
  labels.set(b.labels, a.count);
  return { z, labels, count: a.count + b.count, dim: a.dim };
}

