import { join } from 'node:path';
import { sha256, writeFileAtomic, writeJsonAtomic } from '../../engine/files.js';
import { encodeNpy } from '../../data/npy.js';
import type { ImageDataset } from '../../data/dataset.js';
import type { AttackResult } from '../types.js';

/**
 * Export of a T1 poisoned set (poisons *added* to the downstream training set):
 *
 *   x_poisons.npy          float32 P×H×W×C in [0,1] (for gc-feature: the clean
 *                          points GC started from — the poisons are features)
 *   y_poisons.npy          int64 P, the poison labels
 *   poison_features.npy    float32 P×d, when the attack optimised features (ζ)
 *   x_train.npy … y_test.npy   with `full`: clean ∪ poisons and the clean test
 *                          set, so the folder is an NPY dataset directory any
 *                          probe (e.g. `hemlock probe --dataset DIR`) can re-train on
 *   t1-manifest.json       attack, label, ε, seed, mode, the poisons' indices in
 *                          the poisoned training set, their source indices in
 *                          the clean set, labels, ℓ∞/ℓ2 perturbation norms, the
 *                          attack config, scalar details, sha256 of every file
 */

export const T1_MANIFEST_KIND = 'hemlock-t1-poisons';

export interface T1PoisonManifest {
  kind: typeof T1_MANIFEST_KIND;
  version: 1;
  attack: string;
  label: string;
  epsilon: number;
  seed: number;
  mode: string;
  poisonCount: number;
  /** Indices of the poisons in the poisoned training set (clean set first, poisons appended). */
  poisonIndices: number[];
  /** Indices in the clean training set of the images the poisons started from. */
  sourceIndices: number[] | null;
  labels: number[];
  linfNorms: number[] | null;
  l2Norms: number[] | null;
  featureSpace: boolean;
  config: Record<string, unknown>;
  details: Record<string, unknown>;
  dataset: { name: string; cleanTrainCount: number; testCount: number; shape: [number, number, number]; classNames: string[] };
  files: Record<string, string>;
  createdAt: string;
}

function scalarDetails(d: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(d)) {
    if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean' || v === null) out[k] = v;
    else if (k === 'radiusCandidates') out[k] = v;
  }
  return out;
}

export async function exportT1Poisons(
  dir: string,
  result: AttackResult,
  o: { label: string; epsilon: number; seed: number; mode: string; cleanTrain: ImageDataset; test: ImageDataset; full: boolean },
): Promise<T1PoisonManifest> {
  const train = result.poisonedTrain;
  const [h, w, c] = [train.height, train.width, train.channels];
  const p = result.poisonIndices.length;
  const poisons = train.subset(result.poisonIndices);
  const files: Record<string, string> = {};
  const put = async (name: string, arr: { dtype: 'f4' | 'i8'; shape: number[]; data: ArrayLike<number> }) => {
    const bytes = encodeNpy(arr, join(dir, name));
    await writeFileAtomic(join(dir, name), bytes);
    files[name] = sha256(bytes);
  };
  await put('x_poisons.npy', { dtype: 'f4', shape: [p, h, w, c], data: poisons.images });
  await put('y_poisons.npy', { dtype: 'i8', shape: [p], data: poisons.labels });
  const d = result.details;
  const zeta = d.poisonFeatures instanceof Float32Array ? d.poisonFeatures : null;
  if (zeta) await put('poison_features.npy', { dtype: 'f4', shape: [p, zeta.length / p], data: zeta });
  if (o.full) {
    await put('x_train.npy', { dtype: 'f4', shape: [train.count, h, w, c], data: train.images });
    await put('y_train.npy', { dtype: 'i8', shape: [train.count], data: train.labels });
    await put('x_test.npy', { dtype: 'f4', shape: [o.test.count, h, w, c], data: o.test.images });
    await put('y_test.npy', { dtype: 'i8', shape: [o.test.count], data: o.test.labels });
  }
  const arr = (v: unknown): number[] | null => (v instanceof Float32Array || v instanceof Int32Array ? Array.from(v) : null);
  const manifest: T1PoisonManifest = {
    kind: T1_MANIFEST_KIND,
    version: 1,
    attack: result.attack,
    label: o.label,
    epsilon: o.epsilon,
    seed: o.seed,
    mode: o.mode,
    poisonCount: p,
    poisonIndices: Array.from(result.poisonIndices),
    sourceIndices: arr(d.sourceIndices),
    labels: Array.from(poisons.labels),
    linfNorms: arr(result.linfNorms),
    l2Norms: arr(d.l2Norms),
    featureSpace: d.featureSpace === true,
    config: result.config,
    details: scalarDetails(d),
    dataset: { name: o.cleanTrain.name, cleanTrainCount: o.cleanTrain.count, testCount: o.test.count, shape: [h, w, c], classNames: train.classNames },
    files,
    createdAt: new Date().toISOString(),
  };
  await writeJsonAtomic(join(dir, 't1-manifest.json'), manifest);
  return manifest;
}
