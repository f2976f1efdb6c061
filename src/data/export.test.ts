import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HemlockInputError } from '../engine/errors.js';
import { sha256File } from '../engine/files.js';
import { Rng } from '../engine/rng.js';
import { loadDataset, loadDatasetFromPath } from './builtin.js';
import { ImageDataset } from './dataset.js';
import { exportDataset, isUint8Exact, verifyExport, type ExportFormat, type ExportManifest } from './export.js';
import { readNpy } from './npy.js';

const root = mkdtempSync(join(tmpdir(), 'hemlock-export-'));
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

function toy(n: number, c: number, seed: string, exact = true): ImageDataset {
  const rng = new Rng(seed);
  const images = new Float32Array(n * 4 * 5 * c);
  for (let i = 0; i < images.length; i++) images[i] = exact ? rng.int(256) / 255 : rng.next();
  const labels = Int32Array.from({ length: n }, (_, i) => (i * 7) % 3);
  return new ImageDataset({ images, labels, height: 4, width: 5, channels: c, classNames: ['T-shirt/top', 'Trouser', 'Bag'], name: seed });
}

function manifest(dir: string): ExportManifest {
  return JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as ExportManifest;
}

describe('exportDataset', () => {
  for (const format of ['npy', 'idx', 'png'] as ExportFormat[]) {
    for (const c of [1, 3]) {
      it(`${format} with ${c} channel(s): round trip, manifest hashes match`, async () => {
        const dir = join(root, `${format}-${c}`);
        const train = toy(7, c, `train-${format}-${c}`);
        const test = toy(4, c, `test-${format}-${c}`);
        await exportDataset(train, dir, format, { prefix: 'train' });
        const r = await exportDataset(test, dir, format, { prefix: 'test' });
        expect(Object.keys(r.files).length).toBeGreaterThan(0);
        const m = manifest(dir);
        expect(m.format).toBe(format);
        expect(m.classNames).toEqual(train.classNames);
        expect(m.splits.train!.count).toBe(7);
        expect(m.splits.test!.labelHistogram).toEqual(test.labelHistogram());
        for (const [rel, hash] of Object.entries(m.files)) expect(sha256File(join(dir, rel))).toBe(hash);
        await verifyExport(dir);
        const back = await loadDatasetFromPath(dir);
        expect(back.layout).toBe(format === 'png' ? 'image-folder' : format);
        expect(back.train.classNames).toEqual(train.classNames);
        if (format === 'png') {
          // Image folders list files class by class.
          const order = [...Array(7).keys()].sort((a, b) => train.labels[a]! - train.labels[b]! || a - b);
          expect(Array.from(back.train.images)).toEqual(Array.from(train.subset(order).images));
          expect(Array.from(back.train.labels)).toEqual(order.map((i) => train.labels[i]!));
        } else {
          expect(Array.from(back.train.images)).toEqual(Array.from(train.images));
          expect(Array.from(back.test.labels)).toEqual(Array.from(test.labels));
        }
        expect(back.test.shape).toEqual(test.shape);
        expect(readdirSync(dir).some((f) => f.endsWith('.tmp'))).toBe(false);
      });
    }
  }

  it('keeps non-8-bit pixel values exact (float storage) for npy and idx', async () => {
    const ds = toy(3, 1, 'float', false);
    expect(isUint8Exact(ds.images)).toBe(false);
    for (const format of ['npy', 'idx'] as const) {
      const dir = join(root, `float-${format}`);
      await exportDataset(ds, dir, format, { prefix: 'train' });
      await exportDataset(ds, dir, format, { prefix: 'test' });
      expect(manifest(dir).splits.train!.pixelType).toBe('float32');
      const back = await loadDatasetFromPath(dir);
      expect(Array.from(back.train.images)).toEqual(Array.from(ds.images));
    }
    expect((await readNpy(join(root, 'float-npy', 'x_train.npy'))).dtype).toBe('f4');
    expect(readdirSync(join(root, 'float-idx'))).toContain('train-images-idx3-float.gz');
  });

  it('idx export of the test split uses t10k names, so the built-in loader reads it', async () => {
    const { train, test } = await loadDataset('fashion-mnist-mini');
    const dir = join(root, 'fm-export');
    await exportDataset(train.subset([0, 1, 2, 3]), dir, 'idx', { prefix: 'train' });
    await exportDataset(test.subset([5, 6]), dir, 'idx', { prefix: 'test' });
    expect(readdirSync(dir).sort()).toEqual([
      'manifest.json',
      't10k-images-idx3-ubyte.gz',
      't10k-labels-idx1-ubyte.gz',
      'train-images-idx3-ubyte.gz',
      'train-labels-idx1-ubyte.gz',
    ]);
    const back = await loadDataset('fashion-mnist', { dataDir: dir });
    expect(Array.from(back.test.images)).toEqual(Array.from(test.subset([5, 6]).images));
  });

  it('re-exporting a split replaces its manifest entries', async () => {
    const dir = join(root, 'reexport');
    await exportDataset(toy(2, 1, 'a'), dir, 'npy', { prefix: 'train' });
    const first = manifest(dir).files['x_train.npy'];
    await exportDataset(toy(3, 1, 'b'), dir, 'npy', { prefix: 'train' });
    const m = manifest(dir);
    expect(m.files['x_train.npy']).not.toBe(first);
    expect(m.splits.train!.count).toBe(3);
    expect(Object.keys(m.files).sort()).toEqual(['x_train.npy', 'y_train.npy']);
  });

  it('errors name the path', async () => {
    const dir = join(root, 'conflict');
    await exportDataset(toy(2, 1, 'a'), dir, 'npy', { prefix: 'train' });
    await rejects(exportDataset(toy(2, 1, 'a'), dir, 'idx', { prefix: 'test' }), join(dir, 'manifest.json'), 'already holds a npy export');
    const other = new ImageDataset({ images: new Float32Array(20), labels: new Int32Array(1), height: 4, width: 5, channels: 1, classNames: ['x'], name: 'other' });
    await rejects(exportDataset(other, dir, 'npy', { prefix: 'test' }), join(dir, 'manifest.json'), 'earlier export has classes');
    await rejects(exportDataset(other, dir, 'npy', { prefix: 'val' as 'train' }), dir, "prefix must be 'train' or 'test'");
    writeFileSync(join(dir, 'y_train.npy'), 'tampered');
    await rejects(verifyExport(dir), join(dir, 'y_train.npy'), 'does not match');
    const foreign = join(root, 'foreign');
    await exportDataset(toy(1, 1, 'f'), foreign, 'npy', { prefix: 'train' });
    writeFileSync(join(foreign, 'manifest.json'), '{"something": "else"}');
    await rejects(exportDataset(toy(1, 1, 'f'), foreign, 'npy', { prefix: 'test' }), join(foreign, 'manifest.json'), 'not a hemlock dataset-export manifest');
  });
});
