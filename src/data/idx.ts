import { promises as fsp } from 'node:fs';
import { gunzipSync, gzipSync } from 'node:zlib';
import { inputError } from '../engine/errors.js';
import { writeFileAtomic } from '../engine/files.js';
import { ImageDataset, numericClassNames } from './dataset.js';
import { isGzip, readFileBytes } from './io.js';

/** IDX element types (the third magic byte). */
export type IdxDtype = 'ubyte' | 'byte' | 'short' | 'int' | 'float' | 'double';

export type IdxData = Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;

/** A decoded IDX file: dims are big-endian uint32 in the file, data is row-major. */
export interface IdxArray {
  dtype: IdxDtype;
  dims: number[];
  data: IdxData;
}

export const IDX_DTYPE_CODES: Readonly<Record<IdxDtype, number>> = {
  ubyte: 0x08,
  byte: 0x09,
  short: 0x0b,
  int: 0x0c,
  float: 0x0d,
  double: 0x0e,
};

export const IDX_DTYPE_SIZES: Readonly<Record<IdxDtype, number>> = {
  ubyte: 1,
  byte: 1,
  short: 2,
  int: 4,
  float: 4,
  double: 8,
};

const CODE_TO_DTYPE = new Map<number, IdxDtype>(Object.entries(IDX_DTYPE_CODES).map(([k, v]) => [v, k as IdxDtype]));

/** Parsed IDX header (no data). */
export interface IdxHeader {
  dtype: IdxDtype;
  dims: number[];
  /** Bytes taken by magic + dims. */
  headerBytes: number;
  /** Bytes the data should take: product(dims) × element size. */
  dataBytes: number;
}

function hex2(n: number): string {
  return '0x' + n.toString(16).padStart(2, '0').toUpperCase();
}

/**
 * Parses the IDX header at the start of `bytes` (already decompressed).
 * `where` names the file in error messages. Does not check the data length.
 */
export function parseIdxHeader(bytes: Uint8Array, where: string): IdxHeader {
  if (bytes.length < 4) inputError(where, `too short for an IDX header: ${bytes.length} bytes (need at least 4)`);
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    inputError(where, `not an IDX file: magic number starts with ${hex2(bytes[0]!)} ${hex2(bytes[1]!)} (expected 0x00 0x00)`);
  }
  const dtype = CODE_TO_DTYPE.get(bytes[2]!);
  if (!dtype) {
    inputError(where, `unknown IDX data type code ${hex2(bytes[2]!)} (expected one of 0x08 ubyte, 0x09 byte, 0x0B short, 0x0C int, 0x0D float, 0x0E double)`);
  }
  const ndim = bytes[3]!;
  if (ndim === 0) inputError(where, 'IDX header declares 0 dimensions');
  const headerBytes = 4 + 4 * ndim;
  if (bytes.length < headerBytes) {
    inputError(where, `too short for an IDX header: ${ndim} dimensions need ${headerBytes} header bytes but the file has ${bytes.length}`);
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, headerBytes);
  const dims: number[] = [];
  let count = 1;
  for (let i = 0; i < ndim; i++) {
    const d = dv.getUint32(4 + 4 * i, false);
    dims.push(d);
    count *= d;
  }
  return { dtype, dims, headerBytes, dataBytes: count * IDX_DTYPE_SIZES[dtype] };
}

/** '60000×28×28 ubyte (47040000 bytes)' */
export function describeIdxHeader(h: Pick<IdxHeader, 'dims' | 'dtype' | 'dataBytes'>): string {
  return `${h.dims.join('×')} ${h.dtype} (${h.dataBytes} bytes)`;
}

/** Checks that `available` data bytes after the header match what the header claims. */
export function checkIdxDataLength(h: IdxHeader, available: number, where: string): void {
  if (available < h.dataBytes) {
    inputError(where, `truncated: header claims ${describeIdxHeader(h)} but only ${available} bytes follow`);
  }
  if (available > h.dataBytes) {
    inputError(where, `${available - h.dataBytes} bytes of trailing garbage after ${describeIdxHeader(h)}`);
  }
}

/** Decodes a complete IDX byte buffer (raw or gzip). */
export function parseIdx(bytes: Uint8Array, where: string): IdxArray {
  let raw = bytes;
  if (isGzip(bytes)) {
    try {
      raw = gunzipSync(bytes);
    } catch (e) {
      inputError(where, `corrupt gzip data (${(e as Error).message})`);
    }
  }
  const h = parseIdxHeader(raw, where);
  checkIdxDataLength(h, raw.length - h.headerBytes, where);
  const n = h.dataBytes / IDX_DTYPE_SIZES[h.dtype];
  const off = raw.byteOffset + h.headerBytes;
  let data: IdxData;
  switch (h.dtype) {
    case 'ubyte':
      data = new Uint8Array(raw.buffer.slice(off, off + n));
      break;
    case 'byte':
      data = new Int8Array(raw.buffer.slice(off, off + n));
      break;
    default: {
      const dv = new DataView(raw.buffer, off, h.dataBytes);
      if (h.dtype === 'short') {
        const a = new Int16Array(n);
        for (let i = 0; i < n; i++) a[i] = dv.getInt16(2 * i, false);
        data = a;
      } else if (h.dtype === 'int') {
        const a = new Int32Array(n);
        for (let i = 0; i < n; i++) a[i] = dv.getInt32(4 * i, false);
        data = a;
      } else if (h.dtype === 'float') {
        const a = new Float32Array(n);
        for (let i = 0; i < n; i++) a[i] = dv.getFloat32(4 * i, false);
        data = a;
      } else {
        const a = new Float64Array(n);
        for (let i = 0; i < n; i++) a[i] = dv.getFloat64(8 * i, false);
        data = a;
      }
    }
  }
  return { dtype: h.dtype, dims: h.dims, data };
}

/** Reads an IDX file, raw or gzip-compressed (detected by the 1f 8b magic bytes, not the name). */
export async function readIdx(path: string): Promise<IdxArray> {
  return parseIdx(await readFileBytes(path), path);
}

const INT_RANGES: Partial<Record<IdxDtype, [number, number]>> = {
  ubyte: [0, 255],
  byte: [-128, 127],
  short: [-32768, 32767],
  int: [-2147483648, 2147483647],
};

/** Encodes an IDX array to bytes (uncompressed). `where` names the target in errors. */
export function encodeIdx(arr: { dtype: IdxDtype; dims: number[]; data: ArrayLike<number> }, where: string): Uint8Array {
  const { dtype, dims, data } = arr;
  const code = IDX_DTYPE_CODES[dtype];
  if (code === undefined) inputError(where, `unknown IDX dtype '${String(dtype)}'`);
  if (dims.length === 0 || dims.length > 255) inputError(where, `IDX needs 1..255 dimensions, got ${dims.length}`);
  let count = 1;
  for (const d of dims) {
    if (!Number.isInteger(d) || d < 0 || d > 0xffffffff) inputError(where, `bad IDX dimension ${d}`);
    count *= d;
  }
  if (count !== data.length) inputError(where, `dims ${dims.join('×')} hold ${count} values but data has ${data.length}`);
  const size = IDX_DTYPE_SIZES[dtype];
  const headerBytes = 4 + 4 * dims.length;
  const out = new Uint8Array(headerBytes + count * size);
  const dv = new DataView(out.buffer);
  out[2] = code;
  out[3] = dims.length;
  dims.forEach((d, i) => dv.setUint32(4 + 4 * i, d, false));
  const range = INT_RANGES[dtype];
  if (range) {
    for (let i = 0; i < count; i++) {
      const v = data[i]!;
      if (!Number.isInteger(v) || v < range[0] || v > range[1]) {
        inputError(where, `value ${v} at index ${i} does not fit IDX ${dtype} [${range[0]}, ${range[1]}]`);
      }
    }
  }
  let o = headerBytes;
  switch (dtype) {
    case 'ubyte':
      for (let i = 0; i < count; i++) out[o + i] = data[i]!;
      break;
    case 'byte':
      for (let i = 0; i < count; i++) dv.setInt8(o + i, data[i]!);
      break;
    case 'short':
      for (let i = 0; i < count; i++, o += 2) dv.setInt16(o, data[i]!, false);
      break;
    case 'int':
      for (let i = 0; i < count; i++, o += 4) dv.setInt32(o, data[i]!, false);
      break;
    case 'float':
      for (let i = 0; i < count; i++, o += 4) dv.setFloat32(o, data[i]!, false);
      break;
    case 'double':
      for (let i = 0; i < count; i++, o += 8) dv.setFloat64(o, data[i]!, false);
      break;
  }
  return out;
}

/** Writes an IDX file atomically; with `gzip`, gzip-compressed (level 9, deterministic header). */
export async function writeIdx(
  path: string,
  arr: { dtype: IdxDtype; dims: number[]; data: ArrayLike<number> },
  opts: { gzip?: boolean } = {},
): Promise<void> {
  const raw = encodeIdx(arr, path);
  await writeFileAtomic(path, opts.gzip ? gzipSync(raw, { level: 9 }) : raw);
}

export interface LoadIdxImagesOptions {
  /** Dataset name; default: the images path. */
  name?: string;
  /** Class names; default '0'..'K-1' with K = max label + 1. */
  classNames?: string[];
}

/**
 * Loads an image IDX file (N×H×W or N×H×W×C; ubyte scaled by 1/255, or
 * float/double already in [0, 1]) and a 1-D integer label IDX file.
 */
export async function loadIdxImages(imagesPath: string, labelsPath: string, opts: LoadIdxImagesOptions = {}): Promise<ImageDataset> {
  const [x, y] = await Promise.all([readIdx(imagesPath), readIdx(labelsPath)]);
  return idxToDataset(x, y, imagesPath, labelsPath, opts);
}

/** Builds an ImageDataset from decoded IDX arrays; paths are used in error messages. */
export function idxToDataset(x: IdxArray, y: IdxArray, imagesPath: string, labelsPath: string, opts: LoadIdxImagesOptions = {}): ImageDataset {
  if (x.dims.length !== 3 && x.dims.length !== 4) {
    inputError(imagesPath, `expected images of shape N×H×W or N×H×W×C, got ${x.dims.join('×')}`);
  }
  const [n, h, w] = x.dims as [number, number, number];
  const c = x.dims.length === 4 ? x.dims[3]! : 1;
  if (h === 0 || w === 0 || c === 0) inputError(imagesPath, `image dimensions must be positive, got ${x.dims.join('×')}`);
  if (y.dims.length !== 1 && !(y.dims.length === 2 && y.dims[1] === 1)) {
    inputError(labelsPath, `expected a 1-D label array, got shape ${y.dims.join('×')}`);
  }
  if (y.dtype === 'float' || y.dtype === 'double') inputError(labelsPath, `labels must be an integer IDX type, got ${y.dtype}`);
  if (y.dims[0] !== n) inputError(labelsPath, `holds ${y.dims[0]} labels but ${imagesPath} holds ${n} images`);
  const labels = new Int32Array(n);
  let maxLabel = -1;
  for (let i = 0; i < n; i++) {
    const l = y.data[i]!;
    if (l < 0) inputError(labelsPath, `negative label ${l} at index ${i}`);
    labels[i] = l;
    if (l > maxLabel) maxLabel = l;
  }
  const classNames = opts.classNames ?? numericClassNames(Math.max(1, maxLabel + 1));
  if (maxLabel >= classNames.length) {
    const i = labels.findIndex((l) => l >= classNames.length);
    inputError(labelsPath, `label ${labels[i]} at index ${i} is outside [0, ${classNames.length}) for classes [${classNames.join(', ')}]`);
  }
  let images: Float32Array;
  if (x.dtype === 'ubyte') {
    images = new Float32Array(x.data.length);
    const d = x.data;
    for (let i = 0; i < d.length; i++) images[i] = d[i]! / 255;
  } else if (x.dtype === 'float' || x.dtype === 'double') {
    images = x.data instanceof Float32Array ? x.data : Float32Array.from(x.data);
    const per = h * w * c;
    for (let i = 0; i < images.length; i++) {
      const v = images[i]!;
      if (!(v >= 0 && v <= 1)) inputError(imagesPath, `image ${Math.floor(i / per)} has value ${v} (value index ${i}); float pixels must be in [0, 1]`);
    }
  } else {
    inputError(imagesPath, `images must be ubyte (scaled by 1/255) or float/double in [0, 1], got ${x.dtype}`);
  }
  return new ImageDataset(
    { images, labels, height: h, width: w, channels: c, classNames, name: opts.name ?? imagesPath },
    { trustedPixels: true },
  );
}
