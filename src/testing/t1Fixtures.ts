import { Rng } from '../engine/rng.js';
import { loadDataset } from '../data/builtin.js';
import type { ImageDataset } from '../data/dataset.js';
import { buildModel } from '../models/registry.js';
import { classifier, type Classifier } from '../models/classifier.js';
import { linearHead } from '../models/heads.js';
import { disposeModule } from '../models/module.js';
import { tf } from '../engine/tf.js';
import { extractFeatures, featureSet, type FeatureSet } from '../attacks/t1/features.js';
import { headAccuracy, trainLinearProbe, type HeadWeights } from '../attacks/t1/linearProbe.js';

/**
 * Synthetic frozen features for T1 tests: K Gaussian clusters in d dimensions
 * passed through ReLU (like pooled ConvNet features: non-negative), so a
 * linear probe separates them well but not perfectly.
 */
export function gaussianFeatures(n: number, opts: { dim?: number; classes?: number; seed?: number; spread?: number; centerSeed?: number; power?: number } = {}): FeatureSet {
  const dim = opts.dim ?? 16;
  const k = opts.classes ?? 4;
  const centres = new Rng(`centres/${opts.centerSeed ?? 0}`);
  const mu = Array.from({ length: k }, () => Array.from({ length: dim }, () => 1 + 1.2 * centres.normal()));
  const rng = new Rng(`gauss/${opts.seed ?? 0}`);
  const z = new Float32Array(n * dim);
  const labels = new Int32Array(n);
  const spread = opts.spread ?? 1;
  for (let i = 0; i < n; i++) {
    const y = i % k;
    labels[i] = y;
    for (let j = 0; j < dim; j++) z[i * dim + j] = Math.max(0, mu[y]![j]! + spread * rng.normal()) ** (opts.power ?? 1);
  }
  return { z, labels, count: n, dim };
}


export interface TinyT1 {
  train: ImageDataset;
  test: ImageDataset;
  model: Classifier;
  cleanHead: HeadWeights;
  cleanAccuracy: number;
  l2: number;
  dispose(): void;
}


/**
 * A tiny real T1 setting for tests: `classes` of fashion-mnist-mini (seeded
 * subsets of `n` train and `nTest` test images), a randomly initialised narrow
 * ConvNet-S as the frozen encoder, and the exact victim's clean head.
 */
export async function tinyT1(opts: { classes?: number[]; n?: number; nTest?: number; widths?: [number, number, number]; l2?: number } = {}): Promise<TinyT1> {
  const classes = opts.classes ?? [0, 2, 4, 6];
  const { train: tr0, test: te0 } = await loadDataset('fashion-mnist-mini');
  const tr1 = tr0.filterClasses(classes, true);
  const te1 = te0.filterClasses(classes, true);
  const train = tr1.subset(new Rng('tiny-t1/train').sample(tr1.count, opts.n ?? 200));
  const test = te1.subset(new Rng('tiny-t1/test').sample(te1.count, opts.nTest ?? 300));
  const k = classes.length;
  const m = buildModel({ architecture: 'convnet-s', inputShape: [28, 28, 1], numClasses: k, head: 'linear', options: { widths: opts.widths ?? [4, 8, 16] } }, 0);
  const l2 = opts.l2 ?? 1e-3;
  const dim = m.body.featureDim;
  const clean = featureSet(extractFeatures(m.body, train), train.labels, dim);
  const cleanHead = trainLinearProbe(clean, k, { l2 }).head;
  const head = linearHead(dim, k, new Rng('tiny-head'));
  tf.tidy(() => {
    head.params['fc/kernel']!.assign(tf.tensor2d(cleanHead.w, [dim, k]));
    head.params['fc/bias']!.assign(tf.tensor1d(cleanHead.b));
  });
  const cleanAccuracy = headAccuracy(cleanHead, featureSet(extractFeatures(m.body, test), test.labels, dim));
  return {
    train,
    test,
    model: classifier(m.body, head),
    cleanHead,
    cleanAccuracy,
    l2,
    dispose() {
      disposeModule(m);
      disposeModule(head);
    },
  };
}
