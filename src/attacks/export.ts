import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { inputError } from '../engine/errors.js';
import { sha256, writeFileAtomic, writeJsonAtomic } from '../engine/files.js';
import { ImageDataset } from '../data/dataset.js';
import { encodeNpy, parseNpy } from '../data/npy.js';
import { writeImageFolder } from '../data/imageFolder.js';
import type { AttackResult } from './types.js';

/**
 * The exported poisoned set of a targeted training-data attack (T4), in a form
 * any framework can read (the contract of issue 6):
 *
 *   x_train.npy   float32 N×H×W×C in [0,1], poisons applied
 *   y_train.npy   int64 N, labels unchanged
 *   x_test.npy    float32, the clean test set (the target is at targetIndex)
 *   y_test.npy    int64
 *   target.npy    float32 1×H×W×C, the clean target
 *   x_poisons_clean.npy  float32 P×H×W×C, the clean images at poisonIndices
 *                 (the reference against which every ‖δ‖∞ ≤ ε is checked on load)
 *   manifest.json attack, epsilon ([0,1] units), budget, targetIndex,
 *                 targetTrueClass, adversarialClass, poisonIndices, linfNorms,
 *                 seed, config, … and the sha256 of every file above
 *   png/          optional: train/ and test/ image folders and target.png
 *                 (8-bit, so rounding can exceed ε by < 1/510; the NPY files are authoritative)
 *
 * The directory is also a hemlock NPY dataset directory (x_train/y_train/x_test/y_test).
 */

export const POISON_MANIFEST_KIND = 'hemlock-poisoned-set';
/** Slack on ‖δ‖∞ ≤ ε for float32 rounding of x + δ. */
export const LINF_TOLERANCE = 1e-6;

export interface PoisonManifest {
  kind: typeof POISON_MANIFEST_KIND;
  version: 1;
  attack: string;
  /** ℓ∞ radius in [0,1] units. */
  epsilon: number;
  budget: number;
  targetIndex: number;
  targetTrueClass: number;
  adversarialClass: number;
  poisonIndices: number[];
  /** ‖x_train[i] − clean_i‖∞ per poison, in [0,1] units, in poisonIndices order. */
  linfNorms: number[];
  seed: number;
  config: Record<string, unknown>;
  threatModel?: string;
  poisonClass?: number | null;
  dataset: { name: string; trainCount: number; testCount: number; shape: [number, number, number]; classNames: string[] };
  /** What the victim is assumed to train (read by `hemlock evaluate` as its default). */
  victim?: Record<string, unknown>;
  /** Attack facts worth keeping (losses, timings); free-form. */
  details?: Record<string, unknown>;
  files: Record<string, string>;
  png?: { train: string; test: string; target: string };
  createdAt: string;
}

export interface ExportPoisonOptions {
  seed: number;
  epsilon: number;
  budget: number;
  /** Clean training set the attack started from (for the clean poison reference). */
  cleanTrain: ImageDataset;
  test: ImageDataset;
  victim?: Record<string, unknown>;
  /** Also write PNG folders. */
  png?: boolean;
  /** Allow writing into a non-empty directory (files are replaced). */
  overwrite?: boolean;
}

function npyFile(dir: string, name: string, arr: { dtype: 'f4' | 'i8'; shape: number[]; data: ArrayLike<number> }): { name: string; bytes: Uint8Array; path: string } {
  const path = join(dir, name);
  return { name, path, bytes: encodeNpy(arr, path) };
}

function num(details: Record<string, unknown>, key: string): number {
  const v = details[key];
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new Error(`export: attack result lacks details.${key}`);
  return v;
}

/** Writes an attack result as the exported poisoned set; returns the manifest. */
export async function exportPoisonedSet(dir: string, result: AttackResult, o: ExportPoisonOptions): Promise<PoisonManifest> {
  if (!o.overwrite && existsSync(dir) && readdirSync(dir).length > 0) {
    inputError(dir, 'output directory is not empty (choose a new --out, or remove it)');
  }
  const train = result.poisonedTrain;
  const { test, cleanTrain } = o;
  const [h, w, c] = [train.height, train.width, train.channels];
  const targetIndex = num(result.details, 'targetIndex');
  const per = train.imageSize;
  const clean = cleanTrain.subset(result.poisonIndices).images;
  const files = [
    npyFile(dir, 'x_train.npy', { dtype: 'f4', shape: [train.count, h, w, c], data: train.images }),
    npyFile(dir, 'y_train.npy', { dtype: 'i8', shape: [train.count], data: train.labels }),
    npyFile(dir, 'x_test.npy', { dtype: 'f4', shape: [test.count, h, w, c], data: test.images }),
    npyFile(dir, 'y_test.npy', { dtype: 'i8', shape: [test.count], data: test.labels }),
    npyFile(dir, 'target.npy', { dtype: 'f4', shape: [1, h, w, c], data: test.image(targetIndex) }),
    npyFile(dir, 'x_poisons_clean.npy', { dtype: 'f4', shape: [result.poisonIndices.length, h, w, c], data: clean }),
  ];
  const hashes: Record<string, string> = {};
  for (const f of files) {
    await writeFileAtomic(f.path, f.bytes);
    hashes[f.name] = sha256(f.bytes);
  }
  const linf: number[] = [];
  for (let k = 0; k < result.poisonIndices.length; k++) {
    const off = result.poisonIndices[k]! * per;
    let m = 0;
    for (let j = 0; j < per; j++) m = Math.max(m, Math.abs(train.images[off + j]! - clean[k * per + j]!));
    linf.push(m);
  }
  let png: PoisonManifest['png'];
  if (o.png) {
    await writeImageFolder(join(dir, 'png', 'train'), train);
    await writeImageFolder(join(dir, 'png', 'test'), test);
    const px = Buffer.from(Array.from(test.image(targetIndex), (v) => Math.round(v * 255)));
    let img = sharp(px, { raw: { width: w, height: h, channels: c as 1 | 3 | 4 } });
    if (c === 1) img = img.toColourspace('b-w');
    await writeFileAtomic(join(dir, 'png', 'target.png'), await img.png().toBuffer());
    png = { train: 'png/train', test: 'png/test', target: 'png/target.png' };
  }
  const d = result.details;
  const manifest: PoisonManifest = {
    kind: POISON_MANIFEST_KIND,
    version: 1,
    attack: result.attack,
    epsilon: o.epsilon,
    budget: o.budget,
    targetIndex,
    targetTrueClass: num(d, 'targetTrueClass'),
    adversarialClass: num(d, 'adversarialClass'),
    poisonIndices: Array.from(result.poisonIndices),
    linfNorms: linf,
    seed: o.seed,
    config: result.config,
    ...(typeof d.threatModel === 'string' ? { threatModel: d.threatModel } : {}),
    ...('poisonClass' in d ? { poisonClass: d.poisonClass as number | null } : {}),
    dataset: { name: cleanTrain.name, trainCount: train.count, testCount: test.count, shape: [h, w, c], classNames: train.classNames },
    ...(o.victim ? { victim: o.victim } : {}),
    details: Object.fromEntries(Object.entries(d).filter(([k]) => !['lossHistory'].includes(k))),
    files: hashes,
    ...(png ? { png } : {}),
    createdAt: new Date().toISOString(),
  };
  await writeJsonAtomic(join(dir, 'manifest.json'), manifest);
  return manifest;
}

export interface PoisonedSetOnDisk {
  dir: string;
  manifest: PoisonManifest;
  train: ImageDataset;
  test: ImageDataset;
  target: Float32Array;
  /** ‖δ‖∞ per poison, measured against x_poisons_clean.npy. */
  measuredLinf: Float32Array;
}

function readChecked(dir: string, name: string, manifest: PoisonManifest): Uint8Array {
  const path = join(dir, name);
  if (!existsSync(path)) inputError(path, 'missing (listed in the poisoned-set contract)');
  const bytes = new Uint8Array(readFileSync(path));
  const expected = manifest.files?.[name];
  if (expected === undefined) inputError(join(dir, 'manifest.json'), `files.${name}: no sha256 recorded`);
  if (sha256(bytes) !== expected) inputError(path, 'sha256 does not match manifest.json (file changed or corrupt)');
  return bytes;
}

function checkShape(path: string, shape: number[], want: number[]): void {
  if (shape.length !== want.length || shape.some((v, i) => v !== want[i])) inputError(path, `shape (${shape.join(', ')}) but expected (${want.join(', ')})`);
}

/**
 * Reads an exported poisoned set and verifies it: every file's sha256, shapes
 * and dtypes, pixels in [0,1], labels in range, target.npy = x_test[targetIndex],
 * and every poison's ‖x_train[i] − clean_i‖∞ ≤ ε + 1e-6 against
 * x_poisons_clean.npy. Any violation is a HemlockInputError naming the file.
 */
export async function readPoisonedSet(dir: string): Promise<PoisonedSetOnDisk> {
  const mPath = join(dir, 'manifest.json');
  if (!existsSync(mPath)) inputError(mPath, 'not found (not an exported poisoned set)');
  let manifest: PoisonManifest;
  try {
    manifest = JSON.parse(readFileSync(mPath, 'utf8')) as PoisonManifest;
  } catch (e) {
    inputError(mPath, `invalid JSON (${(e as Error).message})`);
  }
  if (manifest.kind !== POISON_MANIFEST_KIND) inputError(mPath, `kind '${String(manifest.kind)}' is not '${POISON_MANIFEST_KIND}'`);
  const eps = manifest.epsilon;
  if (typeof eps !== 'number' || !(eps > 0 && eps <= 1)) inputError(mPath, `epsilon ${String(eps)} is not in (0, 1] (image units)`);
  const ds = manifest.dataset;
  if (!ds || !Array.isArray(ds.shape) || ds.shape.length !== 3 || !Array.isArray(ds.classNames)) inputError(mPath, 'dataset: missing shape or classNames');
  const [h, w, c] = ds.shape;
  const k = ds.classNames.length;
  const arr = (name: string) => parseNpy(readChecked(dir, name, manifest), join(dir, name));
  const xTrain = arr('x_train.npy');
  const yTrain = arr('y_train.npy');
  const xTest = arr('x_test.npy');
  const yTest = arr('y_test.npy');
  const target = arr('target.npy');
  const clean = arr('x_poisons_clean.npy');
  for (const [name, a, dt] of [['x_train.npy', xTrain, 'f4'], ['x_test.npy', xTest, 'f4'], ['target.npy', target, 'f4'], ['x_poisons_clean.npy', clean, 'f4'], ['y_train.npy', yTrain, 'i8'], ['y_test.npy', yTest, 'i8']] as const) {
    if (a.dtype !== dt) inputError(join(dir, name), `dtype ${a.dtype} but the contract says ${dt === 'f4' ? 'float32' : 'int64'}`);
  }
  const n = xTrain.shape[0] ?? -1;
  const nt = xTest.shape[0] ?? -1;
  const p = manifest.poisonIndices?.length ?? -1;
  checkShape(join(dir, 'x_train.npy'), xTrain.shape, [n, h, w, c]);
  checkShape(join(dir, 'y_train.npy'), yTrain.shape, [n]);
  checkShape(join(dir, 'x_test.npy'), xTest.shape, [nt, h, w, c]);
  checkShape(join(dir, 'y_test.npy'), yTest.shape, [nt]);
  checkShape(join(dir, 'target.npy'), target.shape, [1, h, w, c]);
  checkShape(join(dir, 'x_poisons_clean.npy'), clean.shape, [p, h, w, c]);
  const check = (cond: boolean, field: string, problem: string) => {
    if (!cond) inputError(mPath, `${field}: ${problem}`);
  };
  check(Number.isInteger(manifest.targetIndex) && manifest.targetIndex >= 0 && manifest.targetIndex < nt, 'targetIndex', `${manifest.targetIndex} is outside the test set [0, ${nt})`);
  for (const f of ['targetTrueClass', 'adversarialClass'] as const) check(Number.isInteger(manifest[f]) && manifest[f] >= 0 && manifest[f] < k, f, `${manifest[f]} is not a class in [0, ${k})`);
  const seen = new Set<number>();
  for (const i of manifest.poisonIndices) {
    check(Number.isInteger(i) && i >= 0 && i < n && !seen.has(i), 'poisonIndices', `index ${i} is out of range [0, ${n}) or repeated`);
    seen.add(i);
  }
  const xs = xTrain.data as Float32Array;
  const xt = xTest.data as Float32Array;
  const per = h * w * c;
  for (const [name, a] of [['x_train.npy', xs], ['x_test.npy', xt], ['x_poisons_clean.npy', clean.data as Float32Array]] as const) {
    for (let i = 0; i < a.length; i++) {
      const v = a[i]!;
      if (!(v >= 0 && v <= 1)) inputError(join(dir, name), `value ${v} at image ${Math.floor(i / per)} is outside [0, 1]`);
    }
  }
  const tgt = target.data as Float32Array;
  for (let j = 0; j < per; j++) {
    if (tgt[j] !== xt[manifest.targetIndex * per + j]) inputError(join(dir, 'target.npy'), `differs from x_test.npy[${manifest.targetIndex}] (targetIndex)`);
  }
  const cl = clean.data as Float32Array;
  const measured = new Float32Array(p);
  for (let q = 0; q < p; q++) {
    const off = manifest.poisonIndices[q]! * per;
    let m = 0;
    for (let j = 0; j < per; j++) m = Math.max(m, Math.abs(xs[off + j]! - cl[q * per + j]!));
    measured[q] = m;
    if (m > eps + LINF_TOLERANCE) {
      inputError(join(dir, 'x_train.npy'), `poison ${q} (train index ${manifest.poisonIndices[q]}) has ‖δ‖∞ = ${m} > ε = ${eps} (+${LINF_TOLERANCE})`);
    }
  }
  const labels = (a: Int32Array, where: string) => {
    for (let i = 0; i < a.length; i++) if (a[i]! < 0 || a[i]! >= k) inputError(join(dir, where), `label ${a[i]} at index ${i} is outside [0, ${k})`);
    return a;
  };
  const train = new ImageDataset(
    { images: xs, labels: labels(yTrain.data as Int32Array, 'y_train.npy'), height: h, width: w, channels: c, classNames: ds.classNames, name: `${ds.name}+${manifest.attack}` },
    { trustedPixels: true },
  );
  const test = new ImageDataset(
    { images: xt, labels: labels(yTest.data as Int32Array, 'y_test.npy'), height: h, width: w, channels: c, classNames: ds.classNames, name: `${ds.name}/test` },
    { trustedPixels: true },
  );
  return { dir, manifest, train, test, target: tgt, measuredLinf: measured };
}
