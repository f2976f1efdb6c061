import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HemlockInputError } from '../engine/errors.js';
import { Rng } from '../engine/rng.js';
import {
  FASHION_MNIST_CLASS_NAMES,
  FASHION_MNIST_DEFAULT_DIR,
  FASHION_MNIST_MINI_DIR,
  listDatasets,
  loadDataset,
  loadDatasetFromPath,
} from './builtin.js';
import { ImageDataset } from './dataset.js';
import { writeImageFolder } from './imageFolder.js';
import { writeIdx } from './idx.js';
import { writeNpy } from './npy.js';

const root = mkdtempSync(join(tmpdir(), 'hemlock-builtin-'));
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

function checkFashion(ds: ImageDataset, n: number): void {
  expect(ds.shape).toEqual([n, 28, 28, 1]);
  expect(ds.classNames).toEqual(FASHION_MNIST_CLASS_NAMES);
  expect(ds.labelHistogram()).toEqual(new Array(10).fill(n / 10));
  let min = Infinity;
  let max = -Infinity;
  for (const v of ds.images) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  expect(min).toBe(0);
  expect(max).toBe(1);
}

describe('built-in datasets', () => {
  it('lists fashion-mnist-mini and fashion-mnist', () => {
    const names = listDatasets().map((d) => d.name);
    expect(names).toEqual(['fashion-mnist-mini', 'fashion-mnist']);
    expect(listDatasets()[0]!.license).toContain('MIT');
  });

  it('fashion-mnist-mini: 6000/1000, balanced, 28×28×1, values in [0, 1]', async () => {
    expect(FASHION_MNIST_MINI_DIR.replace(/\\/g, '/')).toMatch(/\/data\/fashion-mnist-mini$/);
    const { train, test } = await loadDataset('fashion-mnist-mini');
    checkFashion(train, 6000);
    checkFashion(test, 1000);
    expect(train.name).toBe('fashion-mnist-mini/train');
  });

  it.skipIf(!existsSync(join(FASHION_MNIST_DEFAULT_DIR, 'train-images-idx3-ubyte.gz')))('fashion-mnist: the full 60000/10000 set', async () => {
    const { train, test } = await loadDataset('fashion-mnist');
    checkFashion(train, 60000);
    checkFashion(test, 10000);
  });

  it('fashion-mnist: a missing directory names it and says how to install', async () => {
    const dir = join(root, 'no-fashion');
    const e = await rejects(loadDataset('fashion-mnist', { dataDir: dir }));
    expect(e.message).toBe(
      `fashion-mnist: not found in ${dir} (install Debian's dataset-fashion-mnist: apt-get install dataset-fashion-mnist, or pass --data-dir)`,
    );
  });

  it('fashion-mnist: accepts raw (uncompressed) file names', async () => {
    const dir = join(root, 'fm-raw');
    for (const stem of ['train', 't10k']) {
      await writeIdx(join(dir, `${stem}-images-idx3-ubyte`), { dtype: 'ubyte', dims: [10, 28, 28], data: new Uint8Array(7840).fill(255) });
      await writeIdx(join(dir, `${stem}-labels-idx1-ubyte`), { dtype: 'ubyte', dims: [10], data: [...Array(10).keys()] });
    }
    const { train } = await loadDataset('fashion-mnist', { dataDir: dir });
    expect(train.count).toBe(10);
  });

  it('unknown names are input errors naming the name', async () => {
    await rejects(loadDataset('mnist-huge'), 'mnist-huge: unknown dataset', 'fashion-mnist-mini');
  });
});

function toy(n: number, c: number, classNames: string[], seed: string): ImageDataset {
  const rng = new Rng(seed);
  const images = new Float32Array(n * 4 * 3 * c);
  for (let i = 0; i < images.length; i++) images[i] = rng.int(256) / 255;
  const labels = Int32Array.from({ length: n }, (_, i) => i % classNames.length);
  return new ImageDataset({ images, labels, height: 4, width: 3, channels: c, classNames, name: seed });
}

describe('loadDatasetFromPath', () => {
  it('IDX directory (t10k names, gz)', async () => {
    const dir = join(root, 'idxdir');
    await writeIdx(join(dir, 'train-images-idx3-ubyte.gz'), { dtype: 'ubyte', dims: [3, 2, 2], data: new Uint8Array(12) }, { gzip: true });
    await writeIdx(join(dir, 'train-labels-idx1-ubyte.gz'), { dtype: 'ubyte', dims: [3], data: [0, 1, 2] }, { gzip: true });
    await writeIdx(join(dir, 't10k-images-idx3-ubyte.gz'), { dtype: 'ubyte', dims: [2, 2, 2], data: new Uint8Array(8) }, { gzip: true });
    await writeIdx(join(dir, 't10k-labels-idx1-ubyte.gz'), { dtype: 'ubyte', dims: [2], data: [0, 0] }, { gzip: true });
    const r = await loadDatasetFromPath(dir);
    expect(r.layout).toBe('idx');
    expect(r.train.count).toBe(3);
    expect(r.test.count).toBe(2);
    // Train and test share one class list even though test only uses class 0.
    expect(r.test.classNames).toEqual(['0', '1', '2']);
    writeFileSync(join(dir, 'classes.txt'), 'a\nb\nc\n');
    expect((await loadDatasetFromPath(dir)).train.classNames).toEqual(['a', 'b', 'c']);
  });

  it('CIFAR-10 directory (also inside cifar-10-batches-bin/)', async () => {
    const dir = join(root, 'cifar', 'cifar-10-batches-bin');
    mkdirSync(dir, { recursive: true });
    const rec = (l: number): Buffer => Buffer.concat([Buffer.from([l]), Buffer.alloc(3072, 7)]);
    writeFileSync(join(dir, 'data_batch_1.bin'), Buffer.concat([rec(0), rec(1)]));
    writeFileSync(join(dir, 'data_batch_2.bin'), rec(2));
    writeFileSync(join(dir, 'test_batch.bin'), rec(3));
    writeFileSync(join(dir, 'batches.meta.txt'), 'a\nb\nc\nd\n');
    const r = await loadDatasetFromPath(join(root, 'cifar'));
    expect(r.layout).toBe('cifar10');
    expect(r.train.shape).toEqual([3, 32, 32, 3]);
    expect(Array.from(r.train.labels)).toEqual([0, 1, 2]);
    expect(r.test.classNames).toEqual(['a', 'b', 'c', 'd']);
  });

  it('NPY directory', async () => {
    const dir = join(root, 'npydir');
    for (const s of ['train', 'test']) {
      await writeNpy(join(dir, `x_${s}.npy`), { dtype: 'u1', shape: [2, 2, 2, 3], data: new Uint8Array(24).fill(255) });
      await writeNpy(join(dir, `y_${s}.npy`), { dtype: 'i8', shape: [2], data: [1, 0] });
    }
    const r = await loadDatasetFromPath(dir);
    expect(r.layout).toBe('npy');
    expect(r.train.shape).toEqual([2, 2, 2, 3]);
    expect(r.train.images[0]).toBe(1);
  });

  it('image folders train/ and test/', async () => {
    const dir = join(root, 'imgdir');
    await writeImageFolder(join(dir, 'train'), toy(4, 1, ['cat', 'dog'], 'tr'));
    await writeImageFolder(join(dir, 'test'), toy(2, 1, ['cat', 'dog'], 'te'));
    const r = await loadDatasetFromPath(dir);
    expect(r.layout).toBe('image-folder');
    expect(r.train.shape).toEqual([4, 4, 3, 1]);
    expect(r.test.shape).toEqual([2, 4, 3, 1]);
    expect(r.test.classNames).toEqual(['cat', 'dog']);
  });

  it('unrecognised or incomplete directories are errors naming the path', async () => {
    const dir = join(root, 'junk');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'hello.txt'), 'hi');
    await rejects(loadDatasetFromPath(dir), dir, 'not a recognised dataset directory');
    const partial = join(root, 'partial');
    await writeNpy(join(partial, 'x_train.npy'), { dtype: 'u1', shape: [1, 1, 1], data: [0] });
    await rejects(loadDatasetFromPath(partial), partial, 'incomplete NPY dataset: missing y_train.npy, x_test.npy, y_test.npy');
    await rejects(loadDatasetFromPath(join(root, 'absent')), join(root, 'absent'), 'no such file or directory');
  });
});
