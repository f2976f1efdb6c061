import { join, relative, sep } from 'node:path';
import { gzipSync } from 'node:zlib';
import { inputError } from '../engine/errors.js';
import { sha256, writeFileAtomic, writeJsonAtomic } from '../engine/files.js';
import type { ImageDataset } from './dataset.js';
import { writeImageFolder } from './imageFolder.js';
import { encodeIdx } from './idx.js';
import { exists, readFileBytes, readText } from './io.js';
import { encodeNpy } from './npy.js';

export type ExportFormat = 'npy' | 'idx' | 'png';
export type ExportPrefix = 'train' | 'test';

export const MANIFEST_FILE = 'manifest.json';

export interface ExportOptions {
  prefix: ExportPrefix;
  /**
   * How pixels are stored (npy and idx): 'uint8' rounds v×255; 'float32' is
   * exact; 'auto' (default) uses uint8 when that is lossless (every value is
   * k/255), else float32. PNG is always 8-bit.
   */
  pixelType?: 'auto' | 'uint8' | 'float32';
  /** idx only: gzip the files (default true). */
  gzip?: boolean;
}

/** One split's entry in manifest.json. */
export interface ManifestSplit {
  name: string;
  count: number;
  /** [N, H, W, C] */
  shape: number[];
  pixelType: 'uint8' | 'float32';
  labelHistogram: number[];
  /** Files of this split, relative to the export directory. */
  files: string[];
}

/** manifest.json: what was exported and the sha256 of every file. */
export interface ExportManifest {
  kind: 'hemlock-dataset-export';
  version: 1;
  format: ExportFormat;
  classNames: string[];
  splits: Partial<Record<ExportPrefix, ManifestSplit>>;
  /** Relative path (with '/') → sha256 hex. */
  files: Record<string, string>;
}

export interface ExportResult {
  dir: string;
  manifestPath: string;
  /** Files written by this call, relative path → sha256. */
  files: Record<string, string>;
}

/** True when every value is exactly k/255 as float32, so uint8 storage loses nothing. */
export function isUint8Exact(values: Float32Array): boolean {
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (Math.fround(Math.round(v * 255) / 255) !== v) return false;
  }
  return true;
}

function toUint8(values: Float32Array): Uint8Array {
  const out = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = Math.round(values[i]! * 255);
  return out;
}

function posix(p: string): string {
  return p.split(sep).join('/');
}

async function readManifest(path: string): Promise<ExportManifest | null> {
  if (!(await exists(path))) return null;
  const text = await readText(path);
  let m: ExportManifest;
  try {
    m = JSON.parse(text) as ExportManifest;
  } catch (e) {
    inputError(path, `invalid JSON (${(e as Error).message})`);
  }
  if (m?.kind !== 'hemlock-dataset-export' || typeof m.files !== 'object' || typeof m.splits !== 'object') {
    inputError(path, 'not a hemlock dataset-export manifest (refusing to overwrite it)');
  }
  return m;
}

/**
 * Writes one split of a dataset into `dir` in the given format and records
 * it in `dir/manifest.json` (merged with any earlier export of the other
 * split, which must have used the same format and class names):
 *   npy: x_{prefix}.npy (N×H×W×C u1 or f4), y_{prefix}.npy (i8)
 *   idx: {train|t10k}-images-idx{3|4}-{ubyte|float}[.gz], {train|t10k}-labels-idx1-ubyte[.gz]
 *        (idx3 = N×H×W when C = 1, as in MNIST; 't10k' for the test split)
 *   png: {prefix}/<class>/<index>.png + {prefix}/classes.json (see writeImageFolder)
 * All writes are atomic; the result can be read back with loadDatasetFromPath(dir).
 */
export async function exportDataset(dataset: ImageDataset, dir: string, format: ExportFormat, opts: ExportOptions): Promise<ExportResult> {
  const { prefix } = opts;
  if (prefix !== 'train' && prefix !== 'test') inputError(dir, `export prefix must be 'train' or 'test', got '${String(prefix)}'`);
  if (format !== 'npy' && format !== 'idx' && format !== 'png') inputError(dir, `unknown export format '${String(format)}' (npy, idx, png)`);
  const manifestPath = join(dir, MANIFEST_FILE);
  const previous = await readManifest(manifestPath);
  if (previous) {
    if (previous.format !== format) inputError(manifestPath, `directory already holds a ${previous.format} export; cannot add ${format}`);
    if (previous.classNames.join('\n') !== dataset.classNames.join('\n')) {
      inputError(manifestPath, `earlier export has classes [${previous.classNames.join(', ')}], ${dataset.name} has [${dataset.classNames.join(', ')}]`);
    }
  }
  const pixelMode = opts.pixelType ?? 'auto';
  const pixelType: 'uint8' | 'float32' =
    format === 'png' ? 'uint8' : pixelMode === 'auto' ? (isUint8Exact(dataset.images) ? 'uint8' : 'float32') : pixelMode;
  const [n, h, w, c] = dataset.shape;
  const written: Record<string, string> = {};
  const put = async (rel: string, bytes: Uint8Array): Promise<void> => {
    await writeFileAtomic(join(dir, rel), bytes);
    written[posix(rel)] = sha256(bytes);
  };

  if (format === 'npy') {
    const x = pixelType === 'uint8' ? encodeNpy({ dtype: 'u1', shape: [n, h, w, c], data: toUint8(dataset.images) }, join(dir, `x_${prefix}.npy`)) : encodeNpy({ dtype: 'f4', shape: [n, h, w, c], data: dataset.images }, join(dir, `x_${prefix}.npy`));
    await put(`x_${prefix}.npy`, x);
    await put(`y_${prefix}.npy`, encodeNpy({ dtype: 'i8', shape: [n], data: dataset.labels }, join(dir, `y_${prefix}.npy`)));
  } else if (format === 'idx') {
    const gz = opts.gzip ?? true;
    const stem = prefix === 'train' ? 'train' : 't10k';
    const dims = c === 1 ? [n, h, w] : [n, h, w, c];
    const ext = gz ? '.gz' : '';
    const xName = `${stem}-images-idx${dims.length}-${pixelType === 'uint8' ? 'ubyte' : 'float'}${ext}`;
    const yName = `${stem}-labels-idx1-ubyte${ext}`;
    const x =
      pixelType === 'uint8'
        ? encodeIdx({ dtype: 'ubyte', dims, data: toUint8(dataset.images) }, join(dir, xName))
        : encodeIdx({ dtype: 'float', dims, data: dataset.images }, join(dir, xName));
    if (dataset.numClasses > 256) inputError(join(dir, yName), `${dataset.numClasses} classes do not fit IDX ubyte labels`);
    const y = encodeIdx({ dtype: 'ubyte', dims: [n], data: dataset.labels }, join(dir, yName));
    await put(xName, gz ? gzipSync(x, { level: 9 }) : x);
    await put(yName, gz ? gzipSync(y, { level: 9 }) : y);
  } else {
    const sub = join(dir, prefix);
    const { files } = await writeImageFolder(sub, dataset);
    for (const f of files) written[posix(join(prefix, f))] = sha256(await readFileBytes(join(sub, f)));
  }

  // Merge with the other split's entry, dropping stale hashes of files this split replaced.
  const oldFiles = previous?.splits[prefix]?.files ?? [];
  const files: Record<string, string> = { ...(previous?.files ?? {}) };
  for (const f of oldFiles) delete files[f];
  Object.assign(files, written);
  const sortedFiles = Object.fromEntries(Object.entries(files).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  const manifest: ExportManifest = {
    kind: 'hemlock-dataset-export',
    version: 1,
    format,
    classNames: dataset.classNames,
    splits: {
      ...(previous?.splits ?? {}),
      [prefix]: {
        name: dataset.name,
        count: n,
        shape: [n, h, w, c],
        pixelType,
        labelHistogram: dataset.labelHistogram(),
        files: Object.keys(written).sort(),
      },
    },
    files: sortedFiles,
  };
  await writeJsonAtomic(manifestPath, manifest);
  return { dir, manifestPath, files: written };
}

/**
 * Re-hashes every file listed in `dir/manifest.json`; a missing or changed
 * file is a HemlockInputError naming it.
 */
export async function verifyExport(dir: string): Promise<ExportManifest> {
  const manifestPath = join(dir, MANIFEST_FILE);
  const m = await readManifest(manifestPath);
  if (!m) inputError(manifestPath, 'no such file or directory');
  for (const [rel, hash] of Object.entries(m.files)) {
    const p = join(dir, ...rel.split('/'));
    if (relative(dir, p).startsWith('..')) inputError(manifestPath, `file '${rel}' lies outside ${dir}`);
    const actual = sha256(await readFileBytes(p));
    if (actual !== hash) inputError(p, `sha256 ${actual} does not match ${hash} recorded in ${manifestPath}`);
  }
  return m;
}
