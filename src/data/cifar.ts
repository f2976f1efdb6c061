import { inputError } from '../engine/errors.js';
import { ImageDataset, numericClassNames } from './dataset.js';
import { readFileBytes, readText } from './io.js';

export type CifarVariant = 'cifar10' | 'cifar100';

export const CIFAR_HEIGHT = 32;
export const CIFAR_WIDTH = 32;
export const CIFAR_CHANNELS = 3;
export const CIFAR_PIXELS = CIFAR_HEIGHT * CIFAR_WIDTH * CIFAR_CHANNELS; // 3072

/** Bytes per record: CIFAR-10 has 1 label byte, CIFAR-100 a coarse and a fine label byte. */
export const CIFAR_RECORD_BYTES: Readonly<Record<CifarVariant, number>> = {
  cifar10: 1 + CIFAR_PIXELS,
  cifar100: 2 + CIFAR_PIXELS,
};

export const CIFAR10_CLASS_NAMES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];

/** Decoded CIFAR records: HWC uint8 pixels and labels. */
export interface CifarRecords {
  count: number;
  /** N×32×32×3, HWC, uint8. */
  pixels: Uint8Array;
  /** CIFAR-10 label, or CIFAR-100 fine label. */
  labels: Uint8Array;
  /** CIFAR-100 coarse labels (absent for CIFAR-10). */
  coarseLabels?: Uint8Array;
}

/**
 * Parses one CIFAR binary batch. Each record's 3072 pixel bytes are stored
 * channel-major (1024 R, 1024 G, 1024 B, each row-major 32×32) and are
 * converted to HWC. `where` names the file in errors.
 */
export function parseCifar(bytes: Uint8Array, variant: CifarVariant, where: string): CifarRecords {
  const rec = CIFAR_RECORD_BYTES[variant];
  if (bytes.length === 0) inputError(where, `empty file (a ${variant} batch holds records of ${rec} bytes)`);
  if (bytes.length % rec !== 0) {
    inputError(
      where,
      `size ${bytes.length} bytes is not a multiple of the ${variant} record size ${rec} (${Math.floor(bytes.length / rec)} whole records + ${bytes.length % rec} bytes)`,
    );
  }
  const count = bytes.length / rec;
  const labelBytes = rec - CIFAR_PIXELS;
  const pixels = new Uint8Array(count * CIFAR_PIXELS);
  const labels = new Uint8Array(count);
  const coarse = variant === 'cifar100' ? new Uint8Array(count) : undefined;
  const plane = CIFAR_HEIGHT * CIFAR_WIDTH;
  for (let r = 0; r < count; r++) {
    const base = r * rec;
    if (coarse) {
      coarse[r] = bytes[base]!;
      labels[r] = bytes[base + 1]!;
    } else {
      labels[r] = bytes[base]!;
    }
    const src = base + labelBytes;
    const dst = r * CIFAR_PIXELS;
    for (let p = 0; p < plane; p++) {
      pixels[dst + 3 * p] = bytes[src + p]!;
      pixels[dst + 3 * p + 1] = bytes[src + plane + p]!;
      pixels[dst + 3 * p + 2] = bytes[src + 2 * plane + p]!;
    }
  }
  return coarse ? { count, pixels, labels, coarseLabels: coarse } : { count, pixels, labels };
}

/** Reads a class-names file (one name per line, blank lines ignored), e.g. batches.meta.txt. */
export async function readClassNamesFile(path: string): Promise<string[]> {
  const names = (await readText(path))
    .split(/\r?\n/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (names.length === 0) inputError(path, 'class-names file has no names');
  const seen = new Set<string>();
  for (const n of names) {
    if (seen.has(n)) inputError(path, `duplicate class name '${n}'`);
    seen.add(n);
  }
  return names;
}

export interface LoadCifarOptions {
  variant: CifarVariant;
  /** CIFAR-100 only: which label to use (default 'fine'). */
  labelKind?: 'fine' | 'coarse';
  /** A class-names file (batches.meta.txt, fine_label_names.txt, coarse_label_names.txt). */
  classNamesPath?: string;
  /** Explicit class names (overrides classNamesPath). */
  classNames?: string[];
  /** Dataset name; default: the first batch path. */
  name?: string;
}

/** Loads and concatenates one or more CIFAR binary batch files. */
export async function loadCifar(paths: string[], opts: LoadCifarOptions): Promise<ImageDataset> {
  const { variant } = opts;
  if (variant !== 'cifar10' && variant !== 'cifar100') inputError('cifar', `unknown variant '${String(variant)}'`);
  if (paths.length === 0) inputError(variant, 'no batch files given');
  const labelKind = opts.labelKind ?? 'fine';
  let classNames = opts.classNames;
  if (!classNames && opts.classNamesPath) classNames = await readClassNamesFile(opts.classNamesPath);
  const defaultCount = variant === 'cifar10' ? 10 : labelKind === 'fine' ? 100 : 20;
  if (!classNames) classNames = variant === 'cifar10' ? CIFAR10_CLASS_NAMES : numericClassNames(defaultCount);
  const namesWhere = opts.classNamesPath ?? 'class names';

  const parts: { records: CifarRecords; path: string }[] = [];
  for (const p of paths) parts.push({ records: parseCifar(await readFileBytes(p), variant, p), path: p });
  const total = parts.reduce((s, q) => s + q.records.count, 0);
  const images = new Float32Array(total * CIFAR_PIXELS);
  const labels = new Int32Array(total);
  let off = 0;
  for (const { records, path } of parts) {
    const src = variant === 'cifar100' && labelKind === 'coarse' ? records.coarseLabels! : records.labels;
    for (let i = 0; i < records.count; i++) {
      const l = src[i]!;
      if (l >= classNames.length) {
        inputError(path, `record ${i}: ${variant === 'cifar100' ? labelKind + ' ' : ''}label ${l} is outside [0, ${classNames.length}) (${classNames.length} names from ${namesWhere})`);
      }
      labels[off + i] = l;
    }
    const px = records.pixels;
    const base = off * CIFAR_PIXELS;
    for (let i = 0; i < px.length; i++) images[base + i] = px[i]! / 255;
    off += records.count;
  }
  return new ImageDataset(
    { images, labels, height: CIFAR_HEIGHT, width: CIFAR_WIDTH, channels: CIFAR_CHANNELS, classNames, name: opts.name ?? paths[0]! },
    { trustedPixels: true },
  );
}
