import { tf, type Tensor } from '../engine/tf.js';
import type { Module } from '../models/module.js';
import { accuracy, confusionMatrix, perClassAccuracy } from '../eval/metrics.js';
import { batchRanges, countOf, gatherBatch, type ImageArrays } from './batches.js';

/** Applies `fn` to the dataset in batches (inference mode) and concatenates the per-sample rows. */
export function mapBatches(d: ImageArrays, batchSize: number, fn: (x: Tensor) => Tensor): Float32Array[] {
  const out: Float32Array[] = [];
  const n = countOf(d);
  for (const [s, e] of batchRanges(n, batchSize)) {
    const idx = Array.from({ length: e - s }, (_, k) => s + k);
    out.push(
      tf.tidy(() => {
        const { x } = gatherBatch(d, idx);
        return fn(x);
      }).dataSync() as Float32Array,
    );
  }
  return out;
}

/** Predicted class of every sample (argmax of the logits), in inference mode. */
export function predictLabels(model: Module, d: ImageArrays, batchSize = 500): Int32Array {
  const n = countOf(d);
  const preds = new Int32Array(n);
  let offset = 0;
  for (const [s, e] of batchRanges(n, batchSize)) {
    const idx = Array.from({ length: e - s }, (_, k) => s + k);
    const p = tf.tidy(() => {
      const { x } = gatherBatch(d, idx);
      return tf.argMax(model.apply(x, { training: false }), -1);
    });
    preds.set(p.dataSync() as Int32Array, offset);
    p.dispose();
    offset += e - s;
  }
  return preds;
}

export interface ClassifierEvaluation {
  accuracy: number;
  perClassAccuracy: number[];
  confusion: number[][];
  count: number;
}

export function evaluateClassifier(model: Module, d: ImageArrays, numClasses: number, batchSize = 500): ClassifierEvaluation {
  const preds = predictLabels(model, d, batchSize);
  return {
    accuracy: accuracy(preds, d.labels),
    perClassAccuracy: perClassAccuracy(preds, d.labels, numClasses),
    confusion: confusionMatrix(preds, d.labels, numClasses),
    count: preds.length,
  };
}
