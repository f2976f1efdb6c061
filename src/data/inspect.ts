import { createReadStream } from 'node:fs';
import { basename, extname } from 'node:path';
import { inputError } from '../engine/errors.js';
import { CIFAR_HEIGHT, CIFAR_RECORD_BYTES, CIFAR_WIDTH, CIFAR_CHANNELS, type CifarVariant } from './cifar.js';
import { listImageFolder, probeImage } from './imageFolder.js';
import { checkIdxDataLength, parseIdx, parseIdxHeader } from './idx.js';
import { fsInputError, gunzipHeadAndSize, isGzip, mapLimit, readFileBytes, readHead, statPath } from './io.js';
import { detectLayout, readSidecarClassNames, type DatasetLayoutKind } from './layout.js';
import { checkNpyDataLength, parseNpy, parseNpyHeader } from './npy.js';

export type InspectFormat = 'idx' | 'npy' | 'cifar10' | 'cifar100' | 'image-folder' | 'dataset-dir';

export interface InspectResult {
  path: string;
  format: InspectFormat;
  /** Number of records (first dimension), or images in a folder, or train + test for a dataset dir. */
  count: number;
  /** The array shape as stored (IDX/NPY), or [N, H, W, C] for images. */
  shape: number[];
  /** Element type as stored, e.g. 'ubyte' (IDX), '<f4' (NPY), 'uint8'. */
  dtype?: string;
  /** Count per label (label value, or class name when known); for 1-D integer arrays and labelled image sets. */
  labelHistogram?: Record<string, number>;
  /** IDX: whether the file is gzip-compressed. */
  gzip?: boolean;
  /** dataset-dir: which layout was detected. */
  layout?: DatasetLayoutKind;
  /** dataset-dir: the train and test parts. */
  splits?: { train: InspectResult; test: InspectResult };
  classNames?: string[];
  /** Things worth knowing that are not errors (e.g. mixed image sizes). */
  notes?: string[];
}

/** Files up to this size are read whole to build a label histogram. */
const HISTOGRAM_MAX_BYTES = 64 * 1024 * 1024;
const IDX_MAX_HEADER = 4 + 4 * 255;

function histogramOf(values: ArrayLike<number>, names?: string[]): Record<string, number> {
  const counts = new Map<number, number>();
  for (let i = 0; i < values.length; i++) counts.set(values[i]!, (counts.get(values[i]!) ?? 0) + 1);
  const keys = [...counts.keys()].sort((a, b) => a - b);
  const out: Record<string, number> = {};
  if (names) for (const n of names) out[n] = 0;
  for (const k of keys) out[names?.[k] ?? String(k)] = counts.get(k)!;
  return out;
}

function addHistograms(a: Record<string, number> | undefined, b: Record<string, number> | undefined): Record<string, number> | undefined {
  if (!a || !b) return undefined;
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = (out[k] ?? 0) + v;
  return out;
}

/**
 * Describes a dataset file (IDX raw/gzip, NPY, CIFAR .bin) or directory
 * (class-per-subfolder image folder, or a dataset directory that
 * loadDatasetFromPath understands), validating it along the way. Large
 * files are not read whole: IDX/NPY headers are checked against the file
 * size; gzip is streamed; CIFAR files are streamed for their label bytes.
 */
export async function inspectPath(path: string): Promise<InspectResult> {
  const st = await statPath(path);
  if (st.isDirectory()) return inspectDir(path);
  if (!st.isFile()) inputError(path, 'not a regular file or directory');
  return inspectFile(path, st.size);
}

async function inspectFile(path: string, size: number): Promise<InspectResult> {
  if (size === 0) inputError(path, 'empty file');
  const ext = extname(path).toLowerCase();
  const head = await readHead(path, 16);
  if (ext === '.bin') return inspectCifar(path, size);
  if (isGzip(head)) return inspectIdxGzip(path);
  if (head.length >= 6 && head[0] === 0x93 && String.fromCharCode(...head.subarray(1, 6)) === 'NUMPY') return inspectNpy(path, size);
  if (ext === '.npy') parseNpyHeader(head, path); // throws "bad magic"
  if (head.length >= 2 && head[0] === 0 && head[1] === 0) return inspectIdxRaw(path, size);
  if (/idx/i.test(basename(path))) parseIdxHeader(head, path); // throws "wrong magic"
  inputError(path, 'unrecognised file format (expected an IDX file, raw or gzip; an NPY file; or a CIFAR .bin batch)');
}

function idxResult(path: string, dims: number[], dtype: string, gzip: boolean, labels?: ArrayLike<number>): InspectResult {
  return {
    path,
    format: 'idx',
    count: dims[0]!,
    shape: dims,
    dtype,
    gzip,
    ...(labels ? { labelHistogram: histogramOf(labels) } : {}),
  };
}

function isLabelShape(shape: number[]): boolean {
  return shape.length === 1 || (shape.length === 2 && shape[1] === 1);
}

async function inspectIdxRaw(path: string, size: number): Promise<InspectResult> {
  const head = await readHead(path, IDX_MAX_HEADER);
  const h = parseIdxHeader(head, path);
  checkIdxDataLength(h, size - h.headerBytes, path);
  const intType = h.dtype !== 'float' && h.dtype !== 'double';
  if (isLabelShape(h.dims) && intType && size <= HISTOGRAM_MAX_BYTES) {
    const full = parseIdx(await readFileBytes(path), path);
    return idxResult(path, h.dims, h.dtype, false, full.data);
  }
  return idxResult(path, h.dims, h.dtype, false);
}

async function inspectIdxGzip(path: string): Promise<InspectResult> {
  const { head, size } = await gunzipHeadAndSize(path, IDX_MAX_HEADER);
  const h = parseIdxHeader(head, path);
  checkIdxDataLength(h, size - h.headerBytes, path);
  const intType = h.dtype !== 'float' && h.dtype !== 'double';
  if (isLabelShape(h.dims) && intType && size <= HISTOGRAM_MAX_BYTES) {
    const full = parseIdx(await readFileBytes(path), path);
    return idxResult(path, h.dims, h.dtype, true, full.data);
  }
  return idxResult(path, h.dims, h.dtype, true);
}

async function inspectNpy(path: string, size: number): Promise<InspectResult> {
  const pre = await readHead(path, 12);
  let headerEnd = 10;
  if (pre.length >= 10) {
    const dv = new DataView(pre.buffer, pre.byteOffset, pre.byteLength);
    headerEnd = pre[6] === 1 ? 10 + dv.getUint16(8, true) : pre.length >= 12 ? 12 + dv.getUint32(8, true) : 12;
  }
  const h = parseNpyHeader(await readHead(path, Math.min(headerEnd, size)), path);
  checkNpyDataLength(h, size - h.dataOffset, path);
  const base: InspectResult = { path, format: 'npy', count: h.shape[0] ?? 1, shape: h.shape, dtype: h.descr };
  const intType = h.dtype === 'u1' || h.dtype === 'i4' || h.dtype === 'i8' || h.dtype === 'b1';
  if (isLabelShape(h.shape) && intType && size <= HISTOGRAM_MAX_BYTES) {
    const full = parseNpy(await readFileBytes(path), path);
    return { ...base, labelHistogram: histogramOf(full.data) };
  }
  return base;
}

function cifarVariantFor(path: string, size: number): CifarVariant {
  const r10 = CIFAR_RECORD_BYTES.cifar10;
  const r100 = CIFAR_RECORD_BYTES.cifar100;
  const is10 = size % r10 === 0;
  const is100 = size % r100 === 0;
  if (is10 && !is100) return 'cifar10';
  if (is100 && !is10) return 'cifar100';
  if (is10 && is100) return /^(train|test)\.bin$/i.test(basename(path)) ? 'cifar100' : 'cifar10';
  inputError(
    path,
    `size ${size} bytes is not a multiple of the CIFAR-10 record size ${r10} (${Math.floor(size / r10)} records + ${size % r10} bytes) ` +
      `or the CIFAR-100 record size ${r100} (${Math.floor(size / r100)} records + ${size % r100} bytes)`,
  );
}

/** Streams a CIFAR batch, collecting the label byte(s) of every record. */
async function readCifarLabels(path: string, variant: CifarVariant, count: number): Promise<{ labels: Uint8Array; coarse?: Uint8Array }> {
  const rec = CIFAR_RECORD_BYTES[variant];
  const labels = new Uint8Array(count);
  const coarse = variant === 'cifar100' ? new Uint8Array(count) : undefined;
  let offset = 0;
  try {
    for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
      for (let i = 0; i < chunk.length; i++) {
        const pos = offset + i;
        const r = Math.floor(pos / rec);
        const inRec = pos - r * rec;
        if (r >= count) break;
        if (coarse) {
          if (inRec === 0) coarse[r] = chunk[i]!;
          else if (inRec === 1) labels[r] = chunk[i]!;
          else i += rec - inRec - 1; // skip to the next record
        } else if (inRec === 0) labels[r] = chunk[i]!;
        else i += rec - inRec - 1;
      }
      offset += chunk.length;
    }
  } catch (e) {
    fsInputError(path, e);
  }
  return coarse ? { labels, coarse } : { labels };
}

async function inspectCifar(path: string, size: number): Promise<InspectResult> {
  const variant = cifarVariantFor(path, size);
  const count = size / CIFAR_RECORD_BYTES[variant];
  const { labels, coarse } = await readCifarLabels(path, variant, count);
  const maxFine = variant === 'cifar10' ? 10 : 100;
  labels.forEach((l, i) => {
    if (l >= maxFine) inputError(path, `record ${i}: ${variant === 'cifar100' ? 'fine ' : ''}label ${l} is outside [0, ${maxFine})`);
  });
  coarse?.forEach((l, i) => {
    if (l >= 20) inputError(path, `record ${i}: coarse label ${l} is outside [0, 20)`);
  });
  return {
    path,
    format: variant,
    count,
    shape: [count, CIFAR_HEIGHT, CIFAR_WIDTH, CIFAR_CHANNELS],
    dtype: 'uint8',
    labelHistogram: histogramOf(labels),
  };
}

async function inspectImageFolder(dir: string): Promise<InspectResult> {
  const { classNames, entries } = await listImageFolder(dir);
  const infos = await mapLimit(entries, 16, (e) => probeImage(e.path));
  const first = infos[0]!;
  const channels = infos.every((i) => i.grayscale) ? 1 : 3;
  const sizes = new Set(infos.map((i) => `${i.height}×${i.width}`));
  const formats = [...new Set(infos.map((i) => i.format))].sort();
  const notes: string[] = [];
  if (sizes.size > 1) notes.push(`${sizes.size} different image sizes; loading resizes all to the first image's ${first.height}×${first.width}`);
  return {
    path: dir,
    format: 'image-folder',
    count: entries.length,
    shape: [entries.length, first.height, first.width, channels],
    dtype: formats.join('+'),
    labelHistogram: histogramOf(
      entries.map((e) => e.label),
      classNames,
    ),
    classNames,
    ...(notes.length ? { notes } : {}),
  };
}

/** [N, H, W, C] from an IDX/NPY image array shape. */
function imageShape(path: string, shape: number[]): number[] {
  if (shape.length === 3) return [...shape, 1];
  if (shape.length === 4) return shape;
  inputError(path, `expected images of shape N×H×W or N×H×W×C, got ${shape.join('×')}`);
}

async function inspectPair(
  format: 'idx' | 'npy',
  imagesPath: string,
  labelsPath: string,
  classNames: string[] | undefined,
): Promise<InspectResult> {
  const x = await inspectPath(imagesPath);
  const y = await inspectPath(labelsPath);
  if (!isLabelShape(y.shape)) inputError(labelsPath, `expected a 1-D label array, got shape ${y.shape.join('×')}`);
  if (y.count !== x.count) inputError(labelsPath, `holds ${y.count} labels but ${imagesPath} holds ${x.count} images`);
  let hist = y.labelHistogram;
  if (hist && classNames) {
    const named: Record<string, number> = Object.fromEntries(classNames.map((n) => [n, 0]));
    for (const [k, v] of Object.entries(hist)) {
      const name = classNames[Number(k)];
      if (name === undefined) inputError(labelsPath, `label ${k} is outside [0, ${classNames.length}) for the ${classNames.length} class names`);
      named[name] = v;
    }
    hist = named;
  }
  return {
    path: imagesPath,
    format,
    count: x.count,
    shape: imageShape(imagesPath, x.shape),
    ...(x.dtype ? { dtype: x.dtype } : {}),
    ...(hist ? { labelHistogram: hist } : {}),
  };
}

async function inspectCifarFiles(paths: string[], variant: CifarVariant): Promise<InspectResult> {
  const parts: InspectResult[] = [];
  for (const p of paths) {
    const r = await inspectCifar(p, (await statPath(p)).size);
    if (r.format !== variant) inputError(p, `looks like ${r.format}, expected ${variant}`);
    parts.push(r);
  }
  const count = parts.reduce((s, r) => s + r.count, 0);
  let hist: Record<string, number> | undefined = {};
  for (const r of parts) hist = addHistograms(hist, r.labelHistogram);
  return { path: paths[0]!, format: variant, count, shape: [count, CIFAR_HEIGHT, CIFAR_WIDTH, CIFAR_CHANNELS], dtype: 'uint8', ...(hist ? { labelHistogram: hist } : {}) };
}

async function inspectDir(dir: string): Promise<InspectResult> {
  const layout = await detectLayout(dir);
  if (!layout) {
    // Not a dataset directory: it must be a class-per-subfolder image folder.
    return inspectImageFolder(dir);
  }
  let train: InspectResult;
  let test: InspectResult;
  switch (layout.kind) {
    case 'idx':
    case 'npy': {
      const names = await readSidecarClassNames(dir);
      if (layout.kind === 'idx') {
        train = await inspectPair('idx', layout.train.images, layout.train.labels, names);
        test = await inspectPair('idx', layout.test.images, layout.test.labels, names);
      } else {
        train = await inspectPair('npy', layout.train.x, layout.train.y, names);
        test = await inspectPair('npy', layout.test.x, layout.test.y, names);
      }
      break;
    }
    case 'cifar10':
    case 'cifar100':
      train = await inspectCifarFiles(layout.train, layout.kind);
      test = await inspectCifarFiles(layout.test, layout.kind);
      break;
    case 'image-folder':
      train = await inspectImageFolder(layout.train);
      test = await inspectImageFolder(layout.test);
      break;
  }
  if (train.shape.slice(1).join('×') !== test.shape.slice(1).join('×') && layout.kind !== 'image-folder') {
    inputError(dir, `train images are ${train.shape.slice(1).join('×')} but test images are ${test.shape.slice(1).join('×')}`);
  }
  const count = train.count + test.count;
  const hist = addHistograms(train.labelHistogram, test.labelHistogram);
  return {
    path: dir,
    format: 'dataset-dir',
    layout: layout.kind,
    count,
    shape: [count, ...train.shape.slice(1)],
    ...(train.dtype ? { dtype: train.dtype } : {}),
    ...(hist ? { labelHistogram: hist } : {}),
    ...(train.classNames ? { classNames: train.classNames } : {}),
    splits: { train, test },
  };
}
