import { tf } from '../engine/tf.js';

/**
 * Contrastive NLB selection (WORKLOADS.md W5), exact, without sorting rows.
 *
 * For L2-normalised rows z_i of Z [N,d] and similarities s_ij = z_i·z_j, the
 * score of anchor i is (sum of its M largest similarities) − (sum of the next
 * M); the anchor is the argmax and the selection its M nearest neighbours
 * (the M largest similarities, itself included). The reference
 * (`contrastiveSelection` in workloads.ts, torch_reference.py) runs a top-2M
 * sort of every row of S = ZZᵀ.
 *
 * Here each row only needs two order statistics (linear-time selection
 * instead of a sort): a strided sample of the row bounds the 2M-th largest
 * value from below with a wide margin, one pass gathers the values above that
 * bound (~15% of the row; all of it if the bound turns out too high), and
 * quickselect finds the 2M and then the M largest among them, which are
 * summed in float64.
 * S is computed in row chunks with one matMul per chunk (XNNPACK; Zᵀ is
 * transposed once and reused, so its packed form is cached across chunks)
 * and read straight from the backend's memory when it is wasm.
 *
 * Same result as the reference: the same values are summed (in float64 rather
 * than float32, so scores agree to float32 rounding), the argmax takes the
 * first maximal anchor, and the final selection is the reference's own top-M
 * of the anchor's row. nlbSelection.test.ts checks anchor, selection and
 * score against the reference on random data.
 */
export interface NlbSelection {
  anchor: number;
  selected: Int32Array;
  score: number;
}

const SAMPLE = 512;

/** Scratch buffers for `topSums`, reused across rows. */
export class TopSumScratch {
  readonly candidates: Float64Array;
  readonly sample = new Float64Array(SAMPLE);
  constructor(n: number) {
    this.candidates = new Float64Array(n + 1);
  }
}

/**
 * Rearranges a[0, len) so that a[0, k) holds its k largest values (in no
 * particular order), 1 <= k <= len. Iterative quickselect (Hoare partition,
 * median-of-three pivot).
 */
export function selectLargest(a: Float64Array, len: number, k: number): void {
  let lo = 0;
  let hi = len - 1;
  while (hi > lo) {
    const mid = (lo + hi) >>> 1;
    let x = a[lo]!;
    let y = a[mid]!;
    let t: number;
    const z = a[hi]!;
    if (x < y) {
      t = x;
      x = y;
      y = t;
    }
    if (y < z) y = z;
    if (x < y) y = x;
    const pivot = y; // median of a[lo], a[mid], a[hi]
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i]! > pivot) i++;
      while (a[j]! < pivot) j--;
      if (i <= j) {
        t = a[i]!;
        a[i] = a[j]!;
        a[j] = t;
        i++;
        j--;
      }
    }
    // Now a[lo..j] >= pivot >= a[i..hi], and a[j+1..i-1] == pivot.
    if (k - 1 <= j) hi = j;
    else if (k - 1 >= i) lo = i;
    else return;
  }
}

function sumOf(a: Float64Array, len: number): number {
  let acc = 0;
  for (let i = 0; i < len; i++) acc += a[i]!;
  return acc;
}

/**
 * Sum of the m largest and of the 2m largest values of row[offset, offset+n),
 * exactly (float64 sums of the float32 values). Requires 1 <= m and 2m <= n.
 *
 * A strided sample of the row gives a value `lo` that is, with a wide margin,
 * below the 2m-th largest; one pass gathers the values >= lo (if fewer than
 * 2m are found the estimate was wrong and every value is gathered instead);
 * quickselect then finds the 2m and m largest among them.
 */
export function topSums(row: Float32Array, offset: number, n: number, m: number, s: TopSumScratch): { top: number; top2: number } {
  const { candidates: c, sample } = s;
  const k2 = 2 * m;
  let lo = -Infinity;
  if (n >= 8 * SAMPLE) {
    const step = Math.floor(n / SAMPLE);
    for (let i = 0; i < SAMPLE; i++) sample[i] = row[offset + i * step]!;
    // Expected count above the 2m-th largest within the sample, plus ~5 sigma.
    const q = (k2 / n) * SAMPLE;
    const r = Math.ceil(q + 5 * Math.sqrt(q) + 8);
    if (r < SAMPLE) {
      selectLargest(sample, SAMPLE, r);
      let min = Infinity;
      for (let i = 0; i < r; i++) if (sample[i]! < min) min = sample[i]!;
      lo = min;
    }
  }
  const end = offset + n;
  let len = 0;
  // Branch-free gather: always store, advance only when kept.
  for (let j = offset; j < end; j++) {
    const v = row[j]!;
    c[len] = v;
    len += ((v >= lo) as unknown as number) | 0;
  }
  if (len < k2) {
    len = 0;
    for (let j = offset; j < end; j++) c[len++] = row[j]!;
  }
  selectLargest(c, len, k2);
  const top2 = sumOf(c, k2);
  selectLargest(c, k2, m);
  return { top: sumOf(c, m), top2 };
}

interface WasmHeapBackend {
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array;
}

/** Row-major float32 values of a 2-D tensor, without a copy on the wasm backend. */
function rowsOf(t: tf.Tensor2D): Float32Array {
  const b = tf.backend() as unknown as Partial<WasmHeapBackend>;
  if (tf.getBackend() === 'wasm' && typeof b.typedArrayFromHeap === 'function') return b.typedArrayFromHeap(t);
  return t.dataSync() as Float32Array;
}

export function nlbSelection(z: tf.Tensor2D, m: number, chunk = 512): NlbSelection {
  const [n] = z.shape;
  if (!Number.isInteger(m) || m < 1 || 2 * m > n) throw new Error(`nlbSelection: need 1 <= M and 2M <= N, got M=${m}, N=${n}`);
  const zt = tf.transpose(z) as tf.Tensor2D; // [d, N], transposed once
  const scratch = new TopSumScratch(n);
  let best = -Infinity;
  let bestI = -1;
  try {
    for (let s0 = 0; s0 < n; s0 += chunk) {
      const rows = Math.min(chunk, n - s0);
      const sim = tf.tidy(() => tf.matMul(tf.slice(z, [s0, 0], [rows, -1]), zt)) as tf.Tensor2D;
      try {
        const values = rowsOf(sim);
        for (let r = 0; r < rows; r++) {
          const { top, top2 } = topSums(values, r * n, n, m, scratch);
          const score = 2 * top - top2;
          if (score > best) {
            best = score;
            bestI = s0 + r;
          }
        }
      } finally {
        sim.dispose();
      }
    }
  } finally {
    zt.dispose();
  }
  // The selection exactly as the reference makes it: top-M of the anchor's row.
  const idx = tf.tidy(() => tf.topk(tf.squeeze(tf.matMul(tf.slice(z, [bestI, 0], [1, -1]), z, false, true)), m).indices);
  const selected = idx.dataSync() as Int32Array;
  idx.dispose();
  return { anchor: bestI, selected, score: best };
}
