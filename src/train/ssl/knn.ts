import { tf } from '../../engine/tf.js';
import { accuracy } from '../../eval/metrics.js';
import type { Module } from '../../models/module.js';
import type { ImageArrays } from '../batches.js';
import { extractFeatures } from '../probe.js';
import type { KnnConfig } from './types.js';

/**
 * Weighted k-NN classification (Wu et al. 2018, the usual SSL monitor): with
 * bank and query features L2-normalised, each query takes its k most
 * cosine-similar bank samples and class c scores Σ exp(s/T) over those
 * neighbours labelled c; the prediction is the top-scoring class (lowest
 * index on ties). Queries are processed in chunks, so the full similarity
 * matrix is never held.
 */
export function knnPredict(
  bank: Float32Array,
  bankLabels: Int32Array,
  queries: Float32Array,
  dim: number,
  numClasses: number,
  k: number,
  temperature: number,
  chunk = 256,
): Int32Array {
  const nb = bankLabels.length;
  const nq = queries.length / dim;
  const kk = Math.min(k, nb);
  const preds = new Int32Array(nq);
  const bankT = tf.tidy(() => {
    const b = tf.tensor2d(bank, [nb, dim]);
    return tf.div(b, tf.maximum(tf.norm(b, 'euclidean', 1, true), 1e-12));
  });
  try {
    for (let s = 0; s < nq; s += chunk) {
      const m = Math.min(chunk, nq - s);
      const { values, indices } = tf.tidy(() => {
        const q = tf.tensor2d(queries.subarray(s * dim, (s + m) * dim), [m, dim]);
        const qn = tf.div(q, tf.maximum(tf.norm(q, 'euclidean', 1, true), 1e-12));
        return tf.topk(tf.matMul(qn, bankT, false, true), kk);
      });
      const v = values.dataSync();
      const idx = indices.dataSync();
      tf.dispose([values, indices]);
      const scores = new Float64Array(numClasses);
      for (let i = 0; i < m; i++) {
        scores.fill(0);
        for (let j = 0; j < kk; j++) scores[bankLabels[idx[i * kk + j]!]!] += Math.exp(v[i * kk + j]! / temperature);
        let best = 0;
        for (let c = 1; c < numClasses; c++) if (scores[c]! > scores[best]!) best = c;
        preds[s + i] = best;
      }
    }
  } finally {
    bankT.dispose();
  }
  return preds;
}

/** k-NN accuracy of `encoder`'s features (inference mode): bank → labels, evaluated on queries. */
export function knnAccuracy(encoder: Module, bank: ImageArrays, query: ImageArrays, numClasses: number, cfg: Pick<KnnConfig, 'k' | 'temperature'>): number {
  const fb = extractFeatures(encoder, bank);
  const fq = extractFeatures(encoder, query);
  const preds = knnPredict(fb.features, bank.labels, fq.features, fb.dim, numClasses, cfg.k, cfg.temperature);
  return accuracy(preds, query.labels);
}
