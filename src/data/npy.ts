import { inputError } from '../engine/errors.js';
import { writeFileAtomic } from '../engine/files.js';
import { ImageDataset, numericClassNames } from './dataset.js';
import { readFileBytes } from './io.js';

/**
 * Element types hemlock reads from .npy files (little-endian / byte-order
 * free, C order). 'f8' is read and narrowed to float32; 'i8' is read into an
 * Int32Array and every value must fit in int32; 'b1' is read as 0/1 bytes.
 */
export type NpyDtype = 'f4' | 'f8' | 'u1' | 'b1' | 'i4' | 'i8';

/** Element types hemlock writes. */
export type NpyWriteDtype = 'f4' | 'u1' | 'i4' | 'i8';

export type NpyData = Float32Array | Uint8Array | Int32Array;

export interface NpyArray {
  /** The dtype stored in the file. */
  dtype: NpyDtype;
  shape: number[];
  /** f4/f8 → Float32Array, u1/b1 → Uint8Array, i4/i8 → Int32Array. */
  data: NpyData;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

const DESCR: Record<string, NpyDtype> = {
  '<f4': 'f4',
  '<f8': 'f8',
  '|u1': 'u1',
  '<u1': 'u1',
  '>u1': 'u1',
  u1: 'u1',
  '|b1': 'b1',
  '<b1': 'b1',
  '>b1': 'b1',
  b1: 'b1',
  '<i4': 'i4',
  '<i8': 'i8',
};

const ITEM_SIZE: Record<NpyDtype, number> = { f4: 4, f8: 8, u1: 1, b1: 1, i4: 4, i8: 8 };

const WRITE_DESCR: Record<NpyWriteDtype, string> = { f4: '<f4', u1: '|u1', i4: '<i4', i8: '<i8' };

/** Parsed .npy header. */
export interface NpyHeader {
  dtype: NpyDtype;
  /** The raw descr string, e.g. '<f4'. */
  descr: string;
  shape: number[];
  version: string;
  /** Offset of the first data byte. */
  dataOffset: number;
  /** Bytes the data should take. */
  dataBytes: number;
}

function explainDescr(descr: string): string {
  const kind = descr.replace(/^[<>|=]/, '')[0];
  if (descr.startsWith('>') && /[fiucb]/.test(kind ?? '')) return 'big-endian data is not supported (re-save with .astype("<…"))';
  switch (kind) {
    case 'c':
      return 'complex numbers are not supported';
    case 'O':
      return 'object arrays (pickled Python objects) are not supported';
    case 'U':
    case 'S':
    case 'a':
      return 'string arrays are not supported';
    case 'M':
    case 'm':
      return 'datetime arrays are not supported';
    case 'V':
      return 'void/structured arrays are not supported';
    default:
      return 'not one of the supported types';
  }
}

/**
 * Parses the magic, version and header dict of a .npy file. `bytes` need
 * only contain the header. `where` names the file in errors.
 */
export function parseNpyHeader(bytes: Uint8Array, where: string): NpyHeader {
  if (bytes.length < 6 || MAGIC.some((m, i) => bytes[i] !== m)) {
    inputError(where, 'not an NPY file: bad magic (expected \\x93NUMPY)');
  }
  if (bytes.length < 10) inputError(where, `truncated NPY header: file has only ${bytes.length} bytes`);
  const major = bytes[6]!;
  const minor = bytes[7]!;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLen: number;
  let start: number;
  if (major === 1) {
    headerLen = dv.getUint16(8, true);
    start = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) inputError(where, `truncated NPY header: file has only ${bytes.length} bytes`);
    headerLen = dv.getUint32(8, true);
    start = 12;
  } else {
    inputError(where, `unsupported NPY format version ${major}.${minor} (supported: 1.0, 2.0, 3.0)`);
  }
  if (bytes.length < start + headerLen) {
    inputError(where, `truncated NPY header: header claims ${headerLen} bytes but only ${bytes.length - start} follow`);
  }
  const text = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(start, start + headerLen));
  const descrM = /'descr'\s*:\s*'([^']*)'/.exec(text);
  if (!descrM) {
    if (/'descr'\s*:\s*\[/.test(text)) inputError(where, 'unsupported dtype: structured arrays are not supported');
    inputError(where, `malformed NPY header (no 'descr'): ${JSON.stringify(text.trim())}`);
  }
  const descr = descrM[1]!;
  const fortM = /'fortran_order'\s*:\s*(True|False)/.exec(text);
  if (!fortM) inputError(where, `malformed NPY header (no 'fortran_order'): ${JSON.stringify(text.trim())}`);
  if (fortM[1] === 'True') inputError(where, 'fortran_order True is not supported (re-save with np.ascontiguousarray)');
  const shapeM = /'shape'\s*:\s*\(([^)]*)\)/.exec(text);
  if (!shapeM) inputError(where, `malformed NPY header (no 'shape'): ${JSON.stringify(text.trim())}`);
  const shape: number[] = [];
  for (const part of shapeM[1]!.split(',')) {
    const s = part.trim().replace(/L$/, '');
    if (s === '') continue;
    if (!/^\d+$/.test(s)) inputError(where, `malformed NPY shape (${shapeM[1]})`);
    shape.push(Number(s));
  }
  const dtype = DESCR[descr];
  if (!dtype) {
    inputError(where, `unsupported dtype '${descr}': ${explainDescr(descr)} (supported: <f4, <f8, |u1, |b1, <i4, <i8)`);
  }
  const count = shape.reduce((a, b) => a * b, 1);
  return { dtype, descr, shape, version: `${major}.${minor}`, dataOffset: start + headerLen, dataBytes: count * ITEM_SIZE[dtype] };
}

/** '60000×28×28 <f4 (188160000 bytes)' */
function describe(h: NpyHeader): string {
  return `${h.shape.length ? h.shape.join('×') : 'scalar'} ${h.descr} (${h.dataBytes} bytes)`;
}

export function checkNpyDataLength(h: NpyHeader, available: number, where: string): void {
  if (available < h.dataBytes) inputError(where, `truncated: header claims ${describe(h)} but only ${available} bytes follow`);
  if (available > h.dataBytes) inputError(where, `${available - h.dataBytes} bytes of trailing garbage after ${describe(h)}`);
}

/** Decodes a complete .npy file. */
export function parseNpy(bytes: Uint8Array, where: string): NpyArray {
  const h = parseNpyHeader(bytes, where);
  checkNpyDataLength(h, bytes.length - h.dataOffset, where);
  const n = h.dataBytes / ITEM_SIZE[h.dtype];
  const off = bytes.byteOffset + h.dataOffset;
  const dv = new DataView(bytes.buffer, off, h.dataBytes);
  let data: NpyData;
  switch (h.dtype) {
    case 'u1':
      data = new Uint8Array(bytes.buffer.slice(off, off + n));
      break;
    case 'b1': {
      data = new Uint8Array(bytes.buffer.slice(off, off + n));
      for (let i = 0; i < n; i++) if (data[i]! > 1) inputError(where, `bool value ${data[i]} at index ${i} is not 0 or 1`);
      break;
    }
    case 'f4': {
      const a = new Float32Array(n);
      for (let i = 0; i < n; i++) a[i] = dv.getFloat32(4 * i, true);
      data = a;
      break;
    }
    case 'f8': {
      const a = new Float32Array(n);
      for (let i = 0; i < n; i++) a[i] = dv.getFloat64(8 * i, true);
      data = a;
      break;
    }
    case 'i4': {
      const a = new Int32Array(n);
      for (let i = 0; i < n; i++) a[i] = dv.getInt32(4 * i, true);
      data = a;
      break;
    }
    case 'i8': {
      const a = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        const v = dv.getBigInt64(8 * i, true);
        if (v < -2147483648n || v > 2147483647n) inputError(where, `int64 value ${v} at index ${i} does not fit in int32`);
        a[i] = Number(v);
      }
      data = a;
      break;
    }
  }
  return { dtype: h.dtype, shape: h.shape, data };
}

/** Reads a .npy file (format 1.0, 2.0 or 3.0; C order). */
export async function readNpy(path: string): Promise<NpyArray> {
  return parseNpy(await readFileBytes(path), path);
}

const INT_RANGES: Partial<Record<NpyWriteDtype, [number, number]>> = {
  u1: [0, 255],
  i4: [-2147483648, 2147483647],
  i8: [-Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
};

/** Encodes an array as .npy bytes (version 1.0, or 2.0 if the header needs it). */
export function encodeNpy(arr: { dtype: NpyWriteDtype; shape: number[]; data: ArrayLike<number> }, where: string): Uint8Array {
  const { dtype, shape, data } = arr;
  const descr = WRITE_DESCR[dtype];
  if (!descr) inputError(where, `cannot write NPY dtype '${String(dtype)}' (supported: f4, u1, i4, i8)`);
  let count = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) inputError(where, `bad NPY dimension ${d}`);
    count *= d;
  }
  if (count !== data.length) inputError(where, `shape (${shape.join(', ')}) holds ${count} values but data has ${data.length}`);
  const range = INT_RANGES[dtype];
  if (range) {
    for (let i = 0; i < count; i++) {
      const v = data[i]!;
      if (!Number.isInteger(v) || v < range[0] || v > range[1]) inputError(where, `value ${v} at index ${i} does not fit NPY ${descr}`);
    }
  }
  const shapeStr = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeStr}, }`;
  // Pad so magic + version + length field + dict (ending in \n) is a multiple of 64, like numpy.
  let version = 1;
  let pre = 10;
  let total = pre + dict.length + 1;
  if (Math.ceil(total / 64) * 64 - pre > 0xffff) {
    version = 2;
    pre = 12;
    total = pre + dict.length + 1;
  }
  const padded = Math.ceil(total / 64) * 64;
  dict = dict + ' '.repeat(padded - total) + '\n';
  const headerLen = padded - pre;
  const size = ITEM_SIZE[dtype];
  const out = new Uint8Array(padded + count * size);
  out.set(MAGIC, 0);
  out[6] = version;
  out[7] = 0;
  const dv = new DataView(out.buffer);
  if (version === 1) dv.setUint16(8, headerLen, true);
  else dv.setUint32(8, headerLen, true);
  for (let i = 0; i < dict.length; i++) out[pre + i] = dict.charCodeAt(i);
  let o = padded;
  switch (dtype) {
    case 'u1':
      for (let i = 0; i < count; i++) out[o + i] = data[i]!;
      break;
    case 'f4':
      for (let i = 0; i < count; i++, o += 4) dv.setFloat32(o, data[i]!, true);
      break;
    case 'i4':
      for (let i = 0; i < count; i++, o += 4) dv.setInt32(o, data[i]!, true);
      break;
    case 'i8':
      for (let i = 0; i < count; i++, o += 8) dv.setBigInt64(o, BigInt(data[i]!), true);
      break;
  }
  return out;
}

/** Writes a .npy file atomically. */
export async function writeNpy(path: string, arr: { dtype: NpyWriteDtype; shape: number[]; data: ArrayLike<number> }): Promise<void> {
  await writeFileAtomic(path, encodeNpy(arr, path));
}

export interface LoadNpyImagesOptions {
  /** Dataset name; default: the x path. */
  name?: string;
  /** Class names; default '0'..'K-1' with K = max label + 1. */
  classNames?: string[];
}

/**
 * Loads images from `xPath` (N×H×W or N×H×W×C; u1 scaled by 1/255, f4/f8 must
 * already be in [0, 1]) and integer labels from `yPath` (N or N×1).
 */
export async function loadNpyImages(xPath: string, yPath: string, opts: LoadNpyImagesOptions = {}): Promise<ImageDataset> {
  const [x, y] = await Promise.all([readNpy(xPath), readNpy(yPath)]);
  if (x.shape.length !== 3 && x.shape.length !== 4) {
    inputError(xPath, `expected images of shape N×H×W or N×H×W×C, got (${x.shape.join(', ')})`);
  }
  const [n, h, w] = x.shape as [number, number, number];
  const c = x.shape.length === 4 ? x.shape[3]! : 1;
  if (h === 0 || w === 0 || c === 0) inputError(xPath, `image dimensions must be positive, got (${x.shape.join(', ')})`);
  if (!(y.shape.length === 1 || (y.shape.length === 2 && y.shape[1] === 1))) {
    inputError(yPath, `expected labels of shape (N,) or (N, 1), got (${y.shape.join(', ')})`);
  }
  if (y.dtype === 'f4' || y.dtype === 'f8' || y.dtype === 'b1') inputError(yPath, `labels must be integers (u1, i4, i8), got ${y.dtype}`);
  if (y.shape[0] !== n) inputError(yPath, `holds ${y.shape[0]} labels but ${xPath} holds ${n} images`);
  const labels = new Int32Array(n);
  let maxLabel = -1;
  for (let i = 0; i < n; i++) {
    const l = y.data[i]!;
    if (l < 0) inputError(yPath, `negative label ${l} at index ${i}`);
    labels[i] = l;
    if (l > maxLabel) maxLabel = l;
  }
  const classNames = opts.classNames ?? numericClassNames(Math.max(1, maxLabel + 1));
  if (maxLabel >= classNames.length) {
    const i = labels.findIndex((l) => l >= classNames.length);
    inputError(yPath, `label ${labels[i]} at index ${i} is outside [0, ${classNames.length}) for classes [${classNames.join(', ')}]`);
  }
  let images: Float32Array;
  if (x.dtype === 'u1') {
    images = new Float32Array(x.data.length);
    for (let i = 0; i < images.length; i++) images[i] = x.data[i]! / 255;
  } else if (x.dtype === 'f4' || x.dtype === 'f8') {
    images = x.data as Float32Array;
    const per = h * w * c;
    for (let i = 0; i < images.length; i++) {
      const v = images[i]!;
      if (!(v >= 0 && v <= 1)) {
        inputError(xPath, `image ${Math.floor(i / per)} has value ${v} (value index ${i}); float pixels must be in [0, 1] (divide uint8 data by 255)`);
      }
    }
  } else {
    inputError(xPath, `images must be u1 (scaled by 1/255) or f4/f8 in [0, 1], got ${x.dtype}`);
  }
  return new ImageDataset({ images, labels, height: h, width: w, channels: c, classNames, name: opts.name ?? xPath }, { trustedPixels: true });
}
