import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { HemlockInputError } from '../engine/errors.js';
import { Rng } from '../engine/rng.js';
import { FASHION_MNIST_MINI_DIR } from './builtin.js';
import { ImageDataset } from './dataset.js';
import { writeImageFolder } from './imageFolder.js';
import { encodeIdx, writeIdx } from './idx.js';
import { inspectPath } from './inspect.js';
import { encodeNpy, writeNpy } from './npy.js';

const root = mkdtempSync(join(tmpdir(), 'hemlock-inspect-'));
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

function toy(n: number, classNames: string[]): ImageDataset {
  const rng = new Rng('toy');
  const images = new Float32Array(n * 3 * 2);
  for (let i = 0; i < images.length; i++) images[i] = rng.int(256) / 255;
  const labels = Int32Array.from({ length: n }, (_, i) => i % classNames.length);
  return new ImageDataset({ images, labels, height: 3, width: 2, channels: 1, classNames, name: 'toy' });
}

const cifarRecord = (labels: number[]): Buffer => Buffer.concat([Buffer.from(labels), Buffer.alloc(3072, 1)]);

describe('inspectPath on files', () => {
  it('IDX images, raw and gzip', async () => {
    const raw = join(root, 'img.idx');
    await writeIdx(raw, { dtype: 'ubyte', dims: [5, 3, 2], data: new Uint8Array(30) });
    expect(await inspectPath(raw)).toEqual({ path: raw, format: 'idx', count: 5, shape: [5, 3, 2], dtype: 'ubyte', gzip: false });
    const gz = join(root, 'img.idx.gz');
    await writeIdx(gz, { dtype: 'float', dims: [2, 2], data: [0, 1, 2, 3] }, { gzip: true });
    expect(await inspectPath(gz)).toMatchObject({ format: 'idx', count: 2, shape: [2, 2], dtype: 'float', gzip: true });
  });

  it('IDX labels get a histogram', async () => {
    const path = join(root, 'labels-idx1-ubyte.gz');
    await writeIdx(path, { dtype: 'ubyte', dims: [6], data: [2, 0, 2, 1, 2, 0] }, { gzip: true });
    expect((await inspectPath(path)).labelHistogram).toEqual({ '0': 2, '1': 1, '2': 3 });
  });

  it('NPY', async () => {
    const x = join(root, 'x.npy');
    await writeNpy(x, { dtype: 'f4', shape: [4, 2, 2, 3], data: new Float32Array(48) });
    expect(await inspectPath(x)).toEqual({ path: x, format: 'npy', count: 4, shape: [4, 2, 2, 3], dtype: '<f4' });
    const y = join(root, 'y.npy');
    await writeNpy(y, { dtype: 'i8', shape: [4], data: [1, 1, 0, 3] });
    expect(await inspectPath(y)).toMatchObject({ format: 'npy', count: 4, dtype: '<i8', labelHistogram: { '0': 1, '1': 2, '3': 1 } });
  });

  it('CIFAR-10 and CIFAR-100 .bin', async () => {
    const c10 = join(root, 'data_batch_1.bin');
    writeFileSync(c10, Buffer.concat([cifarRecord([4]), cifarRecord([4]), cifarRecord([9])]));
    expect(await inspectPath(c10)).toEqual({
      path: c10,
      format: 'cifar10',
      count: 3,
      shape: [3, 32, 32, 3],
      dtype: 'uint8',
      labelHistogram: { '4': 2, '9': 1 },
    });
    const c100 = join(root, 'train.bin');
    writeFileSync(c100, Buffer.concat([cifarRecord([3, 99]), cifarRecord([3, 42])]));
    expect(await inspectPath(c100)).toMatchObject({ format: 'cifar100', count: 2, labelHistogram: { '42': 1, '99': 1 } });
  });
});

describe('inspectPath on directories', () => {
  it('an image folder', async () => {
    const dir = join(root, 'folder');
    await writeImageFolder(dir, toy(5, ['T-shirt/top', 'Bag']));
    expect(await inspectPath(dir)).toEqual({
      path: dir,
      format: 'image-folder',
      count: 5,
      shape: [5, 3, 2, 1],
      dtype: 'png',
      labelHistogram: { 'T-shirt/top': 3, Bag: 2 },
      classNames: ['T-shirt/top', 'Bag'],
    });
  });

  it('a dataset directory (the bundled fashion-mnist-mini)', async () => {
    const r = await inspectPath(FASHION_MNIST_MINI_DIR);
    expect(r).toMatchObject({ format: 'dataset-dir', layout: 'idx', count: 7000, shape: [7000, 28, 28, 1], dtype: 'ubyte' });
    expect(r.splits!.train).toMatchObject({ format: 'idx', count: 6000, shape: [6000, 28, 28, 1] });
    expect(r.splits!.test.count).toBe(1000);
    expect(Object.values(r.labelHistogram!)).toEqual(new Array(10).fill(700));
  });

  it('a dataset directory of image folders', async () => {
    const dir = join(root, 'imgds');
    await writeImageFolder(join(dir, 'train'), toy(4, ['a', 'b']));
    await writeImageFolder(join(dir, 'test'), toy(2, ['a', 'b']));
    const r = await inspectPath(dir);
    expect(r).toMatchObject({ format: 'dataset-dir', layout: 'image-folder', count: 6, shape: [6, 3, 2, 1], labelHistogram: { a: 3, b: 3 } });
  });

  it('a CIFAR dataset directory', async () => {
    const dir = join(root, 'cifards');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'data_batch_1.bin'), cifarRecord([1]));
    writeFileSync(join(dir, 'data_batch_2.bin'), cifarRecord([2]));
    writeFileSync(join(dir, 'test_batch.bin'), cifarRecord([1]));
    expect(await inspectPath(dir)).toMatchObject({ format: 'dataset-dir', layout: 'cifar10', count: 3, labelHistogram: { '1': 2, '2': 1 } });
  });
});

describe('inspectPath errors name the path', () => {
  it('IDX header claiming more than the file holds (raw: checked without reading the data)', async () => {
    const path = join(root, 'claims.idx');
    const b = encodeIdx({ dtype: 'ubyte', dims: [1000], data: new Uint8Array(1000) }, 'x');
    const hdr = Buffer.from([0, 0, 8, 3, 0, 0, 0xea, 0x60, 0, 0, 0, 28, 0, 0, 0, 28]);
    writeFileSync(path, Buffer.concat([hdr, b.subarray(8)]));
    const e = await rejects(inspectPath(path));
    expect(e.message).toBe(`${path}: truncated: header claims 60000×28×28 ubyte (47040000 bytes) but only 1000 bytes follow`);
  });

  it('IDX gzip with trailing garbage; wrong magic', async () => {
    const path = join(root, 'garbage-idx1-ubyte.gz');
    writeFileSync(path, gzipSync(Buffer.concat([Buffer.from(encodeIdx({ dtype: 'ubyte', dims: [2], data: [1, 2] }, 'x')), Buffer.alloc(5)])));
    await rejects(inspectPath(path), path, '5 bytes of trailing garbage');
    const magic = join(root, 'magic.idx');
    writeFileSync(magic, Buffer.from([7, 7, 8, 1, 0, 0, 0, 1, 0]));
    await rejects(inspectPath(magic), magic, 'magic number');
  });

  it('NPY with unsupported dtype or truncated data', async () => {
    const path = join(root, 'c.npy');
    const good = encodeNpy({ dtype: 'f4', shape: [2], data: [1, 2] }, 'x');
    const bad = Buffer.from(good);
    bad.write("'<c8'", bad.indexOf("'<f4'"), 'latin1');
    writeFileSync(path, bad);
    await rejects(inspectPath(path), path, "unsupported dtype '<c8'");
    writeFileSync(path, good.subarray(0, good.length - 1));
    await rejects(inspectPath(path), path, 'truncated');
  });

  it('CIFAR .bin with a bad size or label', async () => {
    const path = join(root, 'odd.bin');
    writeFileSync(path, Buffer.alloc(5000));
    await rejects(inspectPath(path), path, 'not a multiple of the CIFAR-10 record size 3073');
    writeFileSync(path, cifarRecord([10]));
    await rejects(inspectPath(path), path, 'record 0: label 10 is outside [0, 10)');
  });

  it('unrecognised files, empty files, image folders with non-images, missing paths', async () => {
    const txt = join(root, 'notes.txt');
    writeFileSync(txt, 'hello');
    await rejects(inspectPath(txt), txt, 'unrecognised file format');
    const empty = join(root, 'empty.idx');
    writeFileSync(empty, '');
    await rejects(inspectPath(empty), empty, 'empty file');
    const dir = join(root, 'badfolder');
    await writeImageFolder(dir, toy(2, ['a']));
    const junk = join(dir, 'a', 'junk.png');
    writeFileSync(junk, 'not really a png');
    await rejects(inspectPath(dir), junk, 'not a readable image');
    await rejects(inspectPath(join(root, 'nope')), join(root, 'nope'), 'no such file or directory');
  });
});
