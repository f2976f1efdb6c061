import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { HemlockInputError } from '../engine/errors.js';
import { Rng } from '../engine/rng.js';
import { ImageDataset } from './dataset.js';
import { classFolderName, listImageFolder, readImageFolder, writeImageFolder } from './imageFolder.js';

const root = mkdtempSync(join(tmpdir(), 'hemlock-imgfolder-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function rejects(p: Promise<unknown>, ...parts: string[]): Promise<HemlockInputError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(HemlockInputError);
    for (const s of parts) expect((e as Error).message).toContain(s);
    return e as HemlockInputError;
  }
  throw new Error('expected a HemlockInputError');
}

function randomDataset(n: number, h: number, w: number, c: number, classNames: string[], seed: string): ImageDataset {
  const rng = new Rng(seed);
  const images = new Float32Array(n * h * w * c);
  for (let i = 0; i < images.length; i++) images[i] = rng.int(256) / 255;
  const labels = Int32Array.from({ length: n }, (_, i) => i % classNames.length);
  return new ImageDataset({ images, labels, height: h, width: w, channels: c, classNames, name: seed });
}

async function png(path: string, w: number, h: number, channels: 1 | 3, value: number): Promise<void> {
  mkdirSync(join(path, '..'), { recursive: true });
  let img = sharp(Buffer.alloc(w * h * channels, value), { raw: { width: w, height: h, channels } });
  if (channels === 1) img = img.toColourspace('b-w');
  writeFileSync(path, await img.png().toBuffer());
}

describe('image folder round trip', () => {
  it('grayscale: write PNGs, read back within 1/255, labels and names preserved', async () => {
    const dir = join(root, 'gray');
    const ds = randomDataset(7, 5, 4, 1, ['T-shirt/top', 'Trouser', 'Bag'], 'gray');
    const { files } = await writeImageFolder(dir, ds);
    expect(files).toContain('classes.json');
    expect(files).toContain(join('T-shirt_top', '00000.png'));
    expect(readdirSync(dir).sort()).toEqual(['Bag', 'T-shirt_top', 'Trouser', 'classes.json']);
    const back = await readImageFolder(dir);
    expect(back.shape).toEqual([7, 5, 4, 1]);
    expect(back.classNames).toEqual(ds.classNames);
    // Files are read class by class; compare by sorting original indices the same way.
    const order = [...Array(7).keys()].sort((a, b) => ds.labels[a]! - ds.labels[b]! || a - b);
    expect(Array.from(back.labels)).toEqual(order.map((i) => ds.labels[i]!));
    for (let k = 0; k < order.length; k++) {
      const a = ds.image(order[k]!);
      const b = back.image(k);
      for (let j = 0; j < a.length; j++) expect(Math.abs(a[j]! - b[j]!)).toBeLessThanOrEqual(1 / 255 + 1e-7);
    }
  });

  it('RGB with indices: only the chosen images, named by dataset index', async () => {
    const dir = join(root, 'rgb');
    const ds = randomDataset(12, 3, 3, 3, ['x', 'y'], 'rgb');
    await writeImageFolder(dir, ds, { indices: [10, 3] });
    expect(readdirSync(join(dir, 'x'))).toEqual(['00010.png']);
    expect(readdirSync(join(dir, 'y'))).toEqual(['00003.png']);
    const back = await readImageFolder(dir);
    expect(back.shape).toEqual([2, 3, 3, 3]);
    expect(Array.from(back.images)).toEqual(Array.from(ds.subset([10, 3]).images));
  });

  it('refuses to write into a non-empty directory', async () => {
    const dir = join(root, 'busy');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'keep.txt'), 'hi');
    await rejects(writeImageFolder(dir, randomDataset(1, 1, 1, 1, ['a'], 'b')), dir, 'not empty');
  });
});

describe('readImageFolder', () => {
  it('uses sorted subfolder names, the first image size, and detects grayscale', async () => {
    const dir = join(root, 'plain');
    await png(join(dir, 'zebra', 'a.png'), 4, 6, 1, 10);
    await png(join(dir, 'apple', 'b.png'), 4, 6, 1, 200);
    await png(join(dir, 'apple', 'nested', 'c.png'), 8, 12, 1, 100); // different size → resized
    writeFileSync(join(dir, 'apple', '.DS_Store'), 'junk'); // hidden: skipped
    writeFileSync(join(dir, 'README.txt'), 'root-level files are not class members');
    const ds = await readImageFolder(dir, { name: 'plain' });
    expect(ds.classNames).toEqual(['apple', 'zebra']);
    expect(ds.shape).toEqual([3, 6, 4, 1]);
    expect(Array.from(ds.labels)).toEqual([0, 0, 1]);
    expect(ds.images[0]).toBeCloseTo(200 / 255, 6);
    expect(ds.images[24]).toBeCloseTo(100 / 255, 6);
    expect(ds.images[48]).toBeCloseTo(10 / 255, 6);
    const rgb = await readImageFolder(dir, { channels: 3, size: { height: 2, width: 2 } });
    expect(rgb.shape).toEqual([3, 2, 2, 3]);
    expect(rgb.images[0]).toBeCloseTo(200 / 255, 6);
    const listing = await listImageFolder(dir);
    expect(listing.entries.map((e) => e.label)).toEqual([0, 0, 1]);
  });

  it('defaults to 3 channels when any image is colour (JPEG too)', async () => {
    const dir = join(root, 'mixed');
    await png(join(dir, 'a', '1.png'), 2, 2, 1, 50);
    mkdirSync(join(dir, 'b'), { recursive: true });
    writeFileSync(join(dir, 'b', '2.jpg'), await sharp(Buffer.alloc(12, 128), { raw: { width: 2, height: 2, channels: 3 } }).jpeg({ quality: 100 }).toBuffer());
    const ds = await readImageFolder(dir);
    expect(ds.channels).toBe(3);
    expect(ds.images[0]).toBeCloseTo(50 / 255, 6);
    expect(Math.abs(ds.images[12]! - 128 / 255)).toBeLessThan(3 / 255);
  });

  it('a non-image file is an error naming it', async () => {
    const dir = join(root, 'notes');
    await png(join(dir, 'a', '1.png'), 2, 2, 1, 50);
    const notes = join(dir, 'a', 'notes.txt');
    writeFileSync(notes, 'these are my notes, not an image');
    const e = await rejects(readImageFolder(dir), notes, 'not a readable image');
    expect(e.message.startsWith(`${notes}: `)).toBe(true);
  });

  it('a corrupt PNG is an error naming it', async () => {
    const dir = join(root, 'corrupt');
    await png(join(dir, 'a', '1.png'), 16, 16, 1, 50);
    const bad = join(dir, 'a', '2.png');
    await png(bad, 16, 16, 1, 60);
    writeFileSync(bad, readFileSync(bad).subarray(0, 40));
    await rejects(readImageFolder(dir), bad, 'not a readable image');
  });

  it('errors for a missing directory, no subfolders, or no images', async () => {
    await rejects(readImageFolder(join(root, 'absent')), join(root, 'absent'), 'no such file or directory');
    const flat = join(root, 'flat');
    await png(join(flat, '1.png'), 2, 2, 1, 5);
    await rejects(readImageFolder(flat), flat, 'no class subfolders');
    const empty = join(root, 'empty');
    mkdirSync(join(empty, 'a'), { recursive: true });
    await rejects(readImageFolder(empty), empty, 'no image files');
  });

  it('a bad classes.json is an error naming it', async () => {
    const dir = join(root, 'badclasses');
    await png(join(dir, 'a', '1.png'), 2, 2, 1, 5);
    writeFileSync(join(dir, 'classes.json'), '{"classes": [{"name": "A", "folder": "nope"}]}');
    await rejects(readImageFolder(dir), join(dir, 'classes.json'), "folder 'nope'");
    writeFileSync(join(dir, 'classes.json'), '{not json');
    await rejects(readImageFolder(dir), join(dir, 'classes.json'), 'invalid JSON');
  });
});

describe('classFolderName', () => {
  it('makes names file-system safe', () => {
    expect(classFolderName('T-shirt/top')).toBe('T-shirt_top');
    expect(classFolderName('..')).toBe('_');
    expect(classFolderName('.hidden')).toBe('_hidden');
    expect(classFolderName('a:b*c')).toBe('a_b_c');
  });
});
