import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { HemlockInputError } from '../engine/errors.js';
import { writeJsonAtomic } from '../engine/files.js';

/**
 * Images for report galleries, as PNG data URIs (so a report is one file).
 * Pixels are HWC floats in [0,1], as in ImageDataset.
 */

export interface GalleryItem {
  caption?: string;
  /** PNG data URI of the clean original. */
  clean: string;
  /** PNG data URI of the poisoned (or triggered) sample. */
  poisoned: string;
  /** PNG data URI of the magnified perturbation; computed from clean and poisoned when absent. */
  perturbation?: string;
  /** The factor the perturbation was magnified by (shown in the caption). */
  magnification?: number;
}

export interface Gallery {
  title: string;
  description?: string;
  items: GalleryItem[];
}

/** The file a run writes its galleries to (`artifacts/gallery.json`: Gallery[]); reports pick it up. */
export const GALLERY_FILE = 'gallery.json';

const PNG_PREFIX = 'data:image/png;base64,';

function checkShape(pixels: ArrayLike<number>, height: number, width: number, channels: number, what: string): void {
  if (![1, 3, 4].includes(channels)) throw new HemlockInputError(`${what}: ${channels} channels (expected 1, 3 or 4)`);
  if (pixels.length !== height * width * channels) {
    throw new HemlockInputError(`${what}: ${pixels.length} values for a ${height}×${width}×${channels} image`);
  }
}

/** Encodes HWC pixels in [0,1] (clipped) as a PNG data URI. */
export async function pngDataUri(pixels: ArrayLike<number>, height: number, width: number, channels: number): Promise<string> {
  checkShape(pixels, height, width, channels, 'pngDataUri');
  const bytes = Buffer.alloc(pixels.length);
  for (let i = 0; i < pixels.length; i++) {
    const v = pixels[i]!;
    bytes[i] = Number.isFinite(v) ? Math.round(Math.min(1, Math.max(0, v)) * 255) : 0;
  }
  let img = sharp(bytes, { raw: { width, height, channels: channels as 1 | 3 | 4 } });
  if (channels === 1) img = img.toColourspace('b-w');
  const png = await img.png().toBuffer();
  return PNG_PREFIX + png.toString('base64');
}

/** Decodes a PNG (or any image) data URI to HWC floats in [0,1]. */
export async function decodeDataUri(uri: string): Promise<{ pixels: Float32Array; height: number; width: number; channels: number }> {
  const m = /^data:image\/[a-z+]+;base64,(.*)$/s.exec(uri);
  if (!m) throw new HemlockInputError('gallery image: not a base64 image data URI');
  const { data, info } = await sharp(Buffer.from(m[1]!, 'base64')).raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  const pixels = new Float32Array(data.length);
  for (let i = 0; i < data.length; i++) pixels[i] = data[i]! / 255;
  return { pixels, height: info.height, width: info.width, channels: info.channels };
}

/**
 * The perturbation poisoned − clean as an image: mid-grey is zero, brighter is
 * positive, darker negative, magnified by `magnify` (default: so the largest
 * change reaches full scale; at least 1).
 */
export function perturbationPixels(clean: ArrayLike<number>, poisoned: ArrayLike<number>, magnify?: number): { pixels: Float32Array; magnification: number } {
  if (clean.length !== poisoned.length) throw new HemlockInputError(`perturbation: clean has ${clean.length} values, poisoned ${poisoned.length}`);
  let maxAbs = 0;
  for (let i = 0; i < clean.length; i++) maxAbs = Math.max(maxAbs, Math.abs(poisoned[i]! - clean[i]!));
  const m = magnify ?? (maxAbs > 0 ? Math.max(1, 0.5 / maxAbs) : 1);
  const pixels = new Float32Array(clean.length);
  for (let i = 0; i < clean.length; i++) pixels[i] = Math.min(1, Math.max(0, 0.5 + m * (poisoned[i]! - clean[i]!)));
  return { pixels, magnification: m };
}

/** A gallery item from raw pixels (HWC in [0,1]): clean, poisoned and the magnified perturbation. */
export async function galleryItem(opts: {
  clean: ArrayLike<number>;
  poisoned: ArrayLike<number>;
  height: number;
  width: number;
  channels: number;
  caption?: string;
  magnify?: number;
}): Promise<GalleryItem> {
  const { height, width, channels } = opts;
  checkShape(opts.clean, height, width, channels, 'galleryItem clean');
  checkShape(opts.poisoned, height, width, channels, 'galleryItem poisoned');
  const { pixels, magnification } = perturbationPixels(opts.clean, opts.poisoned, opts.magnify);
  return {
    ...(opts.caption ? { caption: opts.caption } : {}),
    clean: await pngDataUri(opts.clean, height, width, channels),
    poisoned: await pngDataUri(opts.poisoned, height, width, channels),
    perturbation: await pngDataUri(pixels, height, width, channels),
    magnification,
  };
}

/** Fills in a missing perturbation image by decoding the clean and poisoned data URIs. */
export async function completeGalleryItem(item: GalleryItem): Promise<GalleryItem> {
  if (item.perturbation) return item;
  const [c, p] = await Promise.all([decodeDataUri(item.clean), decodeDataUri(item.poisoned)]);
  if (c.height !== p.height || c.width !== p.width || c.channels !== p.channels) {
    throw new HemlockInputError(`gallery item${item.caption ? ` '${item.caption}'` : ''}: clean is ${c.width}×${c.height}×${c.channels}, poisoned ${p.width}×${p.height}×${p.channels}`);
  }
  const { pixels, magnification } = perturbationPixels(c.pixels, p.pixels, item.magnification);
  return { ...item, perturbation: await pngDataUri(pixels, c.height, c.width, c.channels), magnification };
}

/** Writes a run's galleries to `<artifactsDir>/gallery.json`, where reports find them. */
export async function writeRunGalleries(artifactsDir: string, galleries: Gallery[]): Promise<void> {
  await writeJsonAtomic(join(artifactsDir, GALLERY_FILE), galleries);
}

/** A run's galleries (none when the file is missing or unreadable). */
export function readRunGalleries(artifactsDir: string): Gallery[] {
  try {
    const g = JSON.parse(readFileSync(join(artifactsDir, GALLERY_FILE), 'utf8')) as unknown;
    return Array.isArray(g) ? (g as Gallery[]) : [];
  } catch {
    return [];
  }
}
