import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { inputError } from '../engine/errors.js';
import { writeFileAtomic } from '../engine/files.js';
import { ImageDataset } from './dataset.js';
import { exists, fsInputError, listDir, mapLimit, readFileBytes, readText, statPath } from './io.js';

/**
 * Optional sidecar written by writeImageFolder: class names in label order
 * and the subfolder holding each. When present, readImageFolder uses it
 * instead of sorting the subfolder names, so names that are not valid file
 * names (e.g. Fashion-MNIST's 'T-shirt/top') and label order survive a round
 * trip.
 */
export const CLASSES_FILE = 'classes.json';

interface ClassesFile {
  classes: { name: string; folder: string }[];
}

export interface ReadImageFolderOptions {
  /** Resize every image to this size; default: the size of the first image. */
  size?: { height: number; width: number };
  /** 1 (grayscale) or 3 (RGB); default 1 if every image is grayscale, else 3. */
  channels?: 1 | 3;
  /** Dataset name; default: the directory path. */
  name?: string;
  /** How many images to decode at once (default 16). */
  concurrency?: number;
}

/** One image file found in a folder, with its class index. */
export interface ImageFolderEntry {
  path: string;
  label: number;
}

/** Result of scanning a class-per-subfolder directory (no decoding). */
export interface ImageFolderListing {
  classNames: string[];
  /** Class folders, parallel to classNames. */
  folders: string[];
  entries: ImageFolderEntry[];
}

async function walkFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await listDir(dir)) {
    if (e.name.startsWith('.')) continue; // .DS_Store, .gitkeep, editor swap files
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await walkFiles(p)));
    else if (e.isFile() || e.isSymbolicLink()) out.push(p);
  }
  return out;
}

async function readClassesFile(dir: string, subdirs: string[]): Promise<{ classNames: string[]; folders: string[] } | null> {
  const path = join(dir, CLASSES_FILE);
  if (!(await exists(path))) return null;
  const text = await readText(path);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    inputError(path, `invalid JSON (${(e as Error).message})`);
  }
  const classes = (parsed as ClassesFile)?.classes;
  if (!Array.isArray(classes) || classes.length === 0) inputError(path, "expected {\"classes\": [{\"name\", \"folder\"}, …]}");
  const classNames: string[] = [];
  const folders: string[] = [];
  classes.forEach((c, i) => {
    if (!c || typeof c.name !== 'string' || typeof c.folder !== 'string' || !c.name || !c.folder) {
      inputError(path, `classes[${i}] must have non-empty string 'name' and 'folder'`);
    }
    if (!subdirs.includes(c.folder)) inputError(path, `classes[${i}] names folder '${c.folder}' which is not a subfolder of ${dir}`);
    classNames.push(c.name);
    folders.push(c.folder);
  });
  const extra = subdirs.filter((s) => !folders.includes(s));
  if (extra.length) inputError(path, `subfolder(s) ${extra.map((s) => `'${s}'`).join(', ')} of ${dir} are not listed`);
  return { classNames, folders };
}

/**
 * Finds the class subfolders (sorted by name, or in classes.json order) and
 * the files inside each (recursively, sorted, hidden files skipped). Files
 * directly in `dir` are not images of any class and are ignored.
 */
export async function listImageFolder(dir: string): Promise<ImageFolderListing> {
  const st = await statPath(dir);
  if (!st.isDirectory()) inputError(dir, 'not a directory (an image folder has one subfolder per class)');
  const subdirs = (await listDir(dir)).filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name);
  if (subdirs.length === 0) inputError(dir, 'no class subfolders (an image folder has one subfolder per class)');
  const fromFile = await readClassesFile(dir, subdirs);
  const folders = fromFile?.folders ?? subdirs;
  const classNames = fromFile?.classNames ?? subdirs;
  const entries: ImageFolderEntry[] = [];
  for (let label = 0; label < folders.length; label++) {
    for (const path of await walkFiles(join(dir, folders[label]!))) entries.push({ path, label });
  }
  if (entries.length === 0) inputError(dir, `no image files in the ${folders.length} class subfolders`);
  return { classNames, folders, entries };
}

/** Header-level facts about one image file. */
export interface ImageInfo {
  width: number;
  height: number;
  /** True for grey or grey+alpha images. */
  grayscale: boolean;
  format: string;
}

/** Reads an image's header with sharp; a non-image or corrupt file is a HemlockInputError naming it. */
export async function probeImage(path: string, bytes?: Uint8Array): Promise<ImageInfo> {
  const buf = bytes ?? (await readFileBytes(path));
  try {
    const m = await sharp(buf).metadata();
    if (!m.width || !m.height) inputError(path, 'not a readable image (no dimensions)');
    const grayscale = m.space === 'b-w' || m.space === 'grey16' || (m.channels !== undefined && m.channels <= 2);
    return { width: m.width, height: m.height, grayscale, format: m.format ?? 'unknown' };
  } catch (e) {
    if ((e as Error).name === 'HemlockInputError') throw e;
    inputError(path, `not a readable image (${(e as Error).message.trim()})`);
  }
}

/**
 * Decodes one image to HWC uint8 with the given size and channel count
 * (alpha dropped, 16-bit scaled to 8-bit, resized with sharp's default
 * kernel when the size differs).
 */
export async function decodeImage(
  path: string,
  bytes: Uint8Array,
  size: { height: number; width: number },
  channels: 1 | 3,
  sourceSize?: { height: number; width: number },
): Promise<Uint8Array> {
  try {
    let img = sharp(bytes).removeAlpha().toColourspace(channels === 1 ? 'b-w' : 'srgb');
    const src = sourceSize ?? (await sharp(bytes).metadata());
    if (src.width !== size.width || src.height !== size.height) img = img.resize(size.width, size.height, { fit: 'fill' });
    const { data, info } = await img.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    if (info.channels !== channels || info.width !== size.width || info.height !== size.height) {
      inputError(path, `decoded to ${info.width}×${info.height}×${info.channels}, expected ${size.width}×${size.height}×${channels}`);
    }
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  } catch (e) {
    if ((e as Error).name === 'HemlockInputError') throw e;
    inputError(path, `not a readable image (${(e as Error).message.trim()})`);
  }
}

/**
 * Reads a class-per-subfolder image folder (PNG, JPEG, WebP, GIF, TIFF, … —
 * whatever sharp decodes). Class names are the sorted subfolder names (or
 * classes.json, see CLASSES_FILE). Hidden files are skipped; any other file
 * that is not a readable image is a HemlockInputError naming it.
 */
export async function readImageFolder(dir: string, opts: ReadImageFolderOptions = {}): Promise<ImageDataset> {
  const { classNames, entries } = await listImageFolder(dir);
  if (opts.channels !== undefined && opts.channels !== 1 && opts.channels !== 3) inputError(dir, `channels must be 1 or 3, got ${opts.channels}`);
  if (opts.size) {
    const { height, width } = opts.size;
    if (!Number.isInteger(height) || !Number.isInteger(width) || height <= 0 || width <= 0) {
      inputError(dir, `size must be positive integers, got ${height}×${width}`);
    }
  }
  const concurrency = opts.concurrency ?? 16;
  // Pass 1: headers (validates every file, finds the default size and channel count).
  const infos = await mapLimit(entries, concurrency, (e) => probeImage(e.path));
  const size = opts.size ?? { height: infos[0]!.height, width: infos[0]!.width };
  const channels: 1 | 3 = opts.channels ?? (infos.every((i) => i.grayscale) ? 1 : 3);
  const per = size.height * size.width * channels;
  const images = new Float32Array(entries.length * per);
  const labels = new Int32Array(entries.length);
  // Pass 2: pixels.
  await mapLimit(entries, concurrency, async (e, i) => {
    const px = await decodeImage(e.path, await readFileBytes(e.path), size, channels, infos[i]);
    const base = i * per;
    for (let k = 0; k < per; k++) images[base + k] = px[k]! / 255;
    labels[i] = e.label;
  });
  return new ImageDataset(
    { images, labels, height: size.height, width: size.width, channels, classNames, name: opts.name ?? dir },
    { trustedPixels: true },
  );
}

/** A file-system-safe folder name for a class name. */
export function classFolderName(name: string): string {
  let s = name.replace(/[/\\:*?"<>|\x00-\x1f]/g, '_').trim();
  if (s === '' || s === '.' || s === '..') s = '_';
  if (s.startsWith('.')) s = '_' + s.slice(1);
  return s;
}

export interface WriteImageFolderOptions {
  /** Which images to write (default: all), in this order. Filenames use the dataset index. */
  indices?: ArrayLike<number>;
  /** How many PNGs to encode at once (default 16). */
  concurrency?: number;
}

/** What writeImageFolder wrote: paths relative to `dir`. */
export interface WrittenImageFolder {
  files: string[];
}

/**
 * Writes images as PNGs into `dir/<class>/<index>.png` (index zero-padded to
 * at least 5 digits), one subfolder per class (created even when empty), plus
 * `dir/classes.json` recording class names and order. `dir` must be absent
 * or empty. Pixels are stored as round(v × 255).
 */
export async function writeImageFolder(dir: string, dataset: ImageDataset, opts: WriteImageFolderOptions = {}): Promise<WrittenImageFolder> {
  if (dataset.channels !== 1 && dataset.channels !== 3 && dataset.channels !== 4) {
    inputError(dir, `cannot write ${dataset.channels}-channel images as PNG (need 1, 3 or 4 channels)`);
  }
  try {
    const existing = await fsp.readdir(dir);
    if (existing.length > 0) inputError(dir, 'directory is not empty; refusing to mix a new image folder into it');
  } catch (e) {
    if ((e as Error).name === 'HemlockInputError') throw e;
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') fsInputError(dir, e);
  }
  const folders: string[] = [];
  const used = new Set<string>();
  dataset.classNames.forEach((name, i) => {
    let f = classFolderName(name);
    if (used.has(f.toLowerCase())) f = `${f}-${i}`;
    used.add(f.toLowerCase());
    folders.push(f);
  });
  for (const f of folders) await fsp.mkdir(join(dir, f), { recursive: true });
  const indices = opts.indices ? Array.from(opts.indices) : Array.from({ length: dataset.count }, (_, i) => i);
  for (const [pos, i] of indices.entries()) {
    if (!Number.isInteger(i) || i < 0 || i >= dataset.count) inputError(dir, `index ${i} (position ${pos}) is outside [0, ${dataset.count}) of ${dataset.name}`);
  }
  const digits = Math.max(5, String(Math.max(0, dataset.count - 1)).length);
  const { height, width, channels } = dataset;
  const per = dataset.imageSize;
  const files = await mapLimit(indices, opts.concurrency ?? 16, async (i) => {
    const px = Buffer.alloc(per);
    const src = dataset.images;
    for (let k = 0; k < per; k++) px[k] = Math.round(src[i * per + k]! * 255);
    let img = sharp(px, { raw: { width, height, channels: channels as 1 | 3 | 4 } });
    if (channels === 1) img = img.toColourspace('b-w');
    const png = await img.png({ compressionLevel: 9 }).toBuffer();
    const rel = join(folders[dataset.labels[i]!]!, `${String(i).padStart(digits, '0')}.png`);
    await writeFileAtomic(join(dir, rel), png);
    return rel;
  });
  const classes: ClassesFile = { classes: dataset.classNames.map((name, i) => ({ name, folder: folders[i]! })) };
  await writeFileAtomic(join(dir, CLASSES_FILE), JSON.stringify(classes, null, 2) + '\n');
  files.push(CLASSES_FILE);
  return { files };
}
