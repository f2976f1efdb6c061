import { join } from 'node:path';
import { inputError } from '../engine/errors.js';
import { readClassNamesFile } from './cifar.js';
import { exists, listDir, readText, statPath } from './io.js';

/** Where the train and test files of a dataset directory are. */
export type DatasetLayout =
  | { kind: 'idx'; dir: string; train: { images: string; labels: string }; test: { images: string; labels: string } }
  | { kind: 'cifar10'; dir: string; train: string[]; test: string[]; classNamesPath?: string }
  | { kind: 'cifar100'; dir: string; train: string[]; test: string[]; fineNamesPath?: string; coarseNamesPath?: string }
  | { kind: 'npy'; dir: string; train: { x: string; y: string }; test: { x: string; y: string } }
  | { kind: 'image-folder'; dir: string; train: string; test: string };

export type DatasetLayoutKind = DatasetLayout['kind'];

/** e.g. train-images-idx3-ubyte.gz, t10k-labels.idx1-ubyte, test-images-idx4-float */
const IDX_NAME = /^(train|t10k|test)-(images|labels)[-.]idx\d+-(ubyte|byte|short|int|float|double)(\.gz)?$/;

/** Subfolders that hold the real files in the official CIFAR archives. */
const CIFAR_SUBDIRS = ['cifar-10-batches-bin', 'cifar-100-binary'];

export const LAYOUT_HELP =
  'expected one of: IDX files (train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]); ' +
  'CIFAR-10 binary (data_batch_N.bin, test_batch.bin); CIFAR-100 binary (train.bin, test.bin); ' +
  'NPY (x_train.npy, y_train.npy, x_test.npy, y_test.npy); or image folders train/ and test/ with one subfolder per class';

/**
 * Finds the IDX image and label files for each split among `names`. Accepts
 * 'train' and 't10k' or 'test' prefixes, raw or .gz; when both a raw and a
 * .gz copy exist, the raw one is used. Returns null when no IDX files are
 * present; throws (naming `dir`) when some are but the set is incomplete.
 */
export function findIdxFiles(dir: string, names: string[]): Extract<DatasetLayout, { kind: 'idx' }> | null {
  const found: Record<string, string[]> = {};
  for (const n of names) {
    const m = IDX_NAME.exec(n);
    if (!m) continue;
    const split = m[1] === 'train' ? 'train' : 'test';
    (found[`${split}-${m[2]}`] ??= []).push(n);
  }
  if (Object.keys(found).length === 0) return null;
  const pick = (key: string): string => {
    const c = found[key];
    if (!c || c.length === 0) {
      const [split, what] = key.split('-');
      inputError(dir, `incomplete IDX dataset: no ${split} ${what} file (like ${split === 'train' ? 'train' : 't10k'}-${what}-idx${what === 'images' ? 3 : 1}-ubyte[.gz])`);
    }
    const raw = c.filter((n) => !n.endsWith('.gz'));
    const prefixes = new Set(c.map((n) => n.replace(/\.gz$/, '')));
    if (prefixes.size > 1) inputError(dir, `ambiguous IDX dataset: several ${key} files (${c.join(', ')})`);
    return join(dir, raw[0] ?? c[0]!);
  };
  return {
    kind: 'idx',
    dir,
    train: { images: pick('train-images'), labels: pick('train-labels') },
    test: { images: pick('test-images'), labels: pick('test-labels') },
  };
}

/**
 * Works out what kind of dataset directory `dir` is. Returns null when it
 * matches no layout; throws when it partly matches one (naming what is
 * missing) or is not a directory.
 */
export async function detectLayout(dir: string): Promise<DatasetLayout | null> {
  const st = await statPath(dir);
  if (!st.isDirectory()) inputError(dir, 'not a directory');
  const entries = await listDir(dir);
  const files = entries.filter((e) => e.isFile() || e.isSymbolicLink()).map((e) => e.name);
  const dirs = entries.filter((e) => e.isDirectory()).map((e) => e.name);
  const has = (n: string): boolean => files.includes(n);

  const idx = findIdxFiles(dir, files);
  if (idx) return idx;

  const batches = files
    .map((n) => /^data_batch_(\d+)\.bin$/.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .sort((a, b) => Number(a[1]) - Number(b[1]))
    .map((m) => m[0]);
  if (batches.length > 0 || has('test_batch.bin')) {
    if (batches.length === 0) inputError(dir, 'incomplete CIFAR-10 dataset: test_batch.bin but no data_batch_N.bin');
    if (!has('test_batch.bin')) inputError(dir, 'incomplete CIFAR-10 dataset: data_batch_N.bin but no test_batch.bin');
    return {
      kind: 'cifar10',
      dir,
      train: batches.map((b) => join(dir, b)),
      test: [join(dir, 'test_batch.bin')],
      ...(has('batches.meta.txt') ? { classNamesPath: join(dir, 'batches.meta.txt') } : {}),
    };
  }
  if (has('train.bin') || has('test.bin')) {
    if (!has('train.bin') || !has('test.bin')) inputError(dir, `incomplete CIFAR-100 dataset: need both train.bin and test.bin`);
    return {
      kind: 'cifar100',
      dir,
      train: [join(dir, 'train.bin')],
      test: [join(dir, 'test.bin')],
      ...(has('fine_label_names.txt') ? { fineNamesPath: join(dir, 'fine_label_names.txt') } : {}),
      ...(has('coarse_label_names.txt') ? { coarseNamesPath: join(dir, 'coarse_label_names.txt') } : {}),
    };
  }
  const npyNames = ['x_train.npy', 'y_train.npy', 'x_test.npy', 'y_test.npy'];
  if (npyNames.some(has)) {
    const missing = npyNames.filter((n) => !has(n));
    if (missing.length) inputError(dir, `incomplete NPY dataset: missing ${missing.join(', ')}`);
    return {
      kind: 'npy',
      dir,
      train: { x: join(dir, 'x_train.npy'), y: join(dir, 'y_train.npy') },
      test: { x: join(dir, 'x_test.npy'), y: join(dir, 'y_test.npy') },
    };
  }
  if (dirs.includes('train') && dirs.includes('test')) {
    return { kind: 'image-folder', dir, train: join(dir, 'train'), test: join(dir, 'test') };
  }
  const sub = dirs.filter((d) => CIFAR_SUBDIRS.includes(d));
  if (sub.length === 1) return detectLayout(join(dir, sub[0]!));
  return null;
}

/**
 * Class names stored beside IDX/NPY files: `manifest.json` written by
 * exportDataset (its `classNames`), else `classes.txt` (one per line).
 */
export async function readSidecarClassNames(dir: string): Promise<string[] | undefined> {
  const manifest = join(dir, 'manifest.json');
  if (await exists(manifest)) {
    const text = await readText(manifest);
    let m: unknown;
    try {
      m = JSON.parse(text);
    } catch (e) {
      inputError(manifest, `invalid JSON (${(e as Error).message})`);
    }
    const names = (m as { classNames?: unknown })?.classNames;
    if (names !== undefined) {
      if (!Array.isArray(names) || names.length === 0 || names.some((n) => typeof n !== 'string' || n === '')) {
        inputError(manifest, 'classNames must be a non-empty array of strings');
      }
      return names as string[];
    }
  }
  const txt = join(dir, 'classes.txt');
  if (await exists(txt)) return readClassNamesFile(txt);
  return undefined;
}
