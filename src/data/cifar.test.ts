import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HemlockInputError } from '../engine/errors.js';
import { CIFAR10_CLASS_NAMES, loadCifar, parseCifar, readClassNamesFile } from './cifar.js';

const dir = mkdtempSync(join(tmpdir(), 'hemlock-cifar-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

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

/** One record: label byte(s), then R plane, G plane, B plane with value = f(channel, pixel). */
function record(labels: number[], f: (c: number, p: number) => number): Buffer {
  const b = Buffer.alloc(labels.length + 3072);
  labels.forEach((l, i) => (b[i] = l));
  for (let c = 0; c < 3; c++) for (let p = 0; p < 1024; p++) b[labels.length + c * 1024 + p] = f(c, p) & 0xff;
  return b;
}

describe('CIFAR-10', () => {
  it('parses a synthetic 2-record file and converts CHW to HWC', async () => {
    const path = join(dir, 'two.bin');
    writeFileSync(path, Buffer.concat([record([3], (c, p) => c * 80 + (p % 7)), record([9], (c, p) => (p + c) % 256)]));
    const ds = await loadCifar([path], { variant: 'cifar10' });
    expect(ds.shape).toEqual([2, 32, 32, 3]);
    expect(Array.from(ds.labels)).toEqual([3, 9]);
    expect(ds.classNames).toEqual(CIFAR10_CLASS_NAMES);
    // Record 0, pixel (row 1, col 2) → p = 34; HWC offset = 34*3 + c.
    for (let c = 0; c < 3; c++) expect(ds.images[34 * 3 + c]).toBeCloseTo((c * 80 + (34 % 7)) / 255, 6);
    // Record 1, last pixel.
    const base = 3072;
    for (let c = 0; c < 3; c++) expect(ds.images[base + 1023 * 3 + c]).toBeCloseTo(((1023 + c) % 256) / 255, 6);
    const raw = parseCifar(new Uint8Array(Buffer.concat([record([1], (c) => c + 1)])), 'cifar10', 'mem');
    expect(Array.from(raw.pixels.subarray(0, 6))).toEqual([1, 2, 3, 1, 2, 3]);
  });

  it('rejects a size that is not a multiple of the record size', async () => {
    const path = join(dir, 'bad.bin');
    writeFileSync(path, Buffer.concat([record([0], () => 0), Buffer.alloc(100)]));
    await rejects(loadCifar([path], { variant: 'cifar10' }), path, 'size 3173 bytes is not a multiple of the cifar10 record size 3073', '1 whole records + 100 bytes');
    writeFileSync(path, Buffer.alloc(0));
    await rejects(loadCifar([path], { variant: 'cifar10' }), path, 'empty file');
  });

  it('concatenates several batches and reads batches.meta.txt', async () => {
    const a = join(dir, 'data_batch_1.bin');
    const b = join(dir, 'data_batch_2.bin');
    writeFileSync(a, record([0], () => 10));
    writeFileSync(b, Buffer.concat([record([1], () => 20), record([2], () => 30)]));
    const meta = join(dir, 'batches.meta.txt');
    writeFileSync(meta, 'cat\ndog\nfrog\n\n');
    const ds = await loadCifar([a, b], { variant: 'cifar10', classNamesPath: meta, name: 'mini' });
    expect(ds.count).toBe(3);
    expect(ds.classNames).toEqual(['cat', 'dog', 'frog']);
    expect(ds.images[3072]).toBeCloseTo(20 / 255, 6);
    expect(ds.name).toBe('mini');
  });

  it('rejects labels beyond the class names, naming the file and record', async () => {
    const path = join(dir, 'label.bin');
    writeFileSync(path, Buffer.concat([record([1], () => 0), record([12], () => 0)]));
    await rejects(loadCifar([path], { variant: 'cifar10' }), path, 'record 1: label 12 is outside [0, 10)');
  });

  it('class-names file errors name the file', async () => {
    const path = join(dir, 'empty.txt');
    writeFileSync(path, '\n\n');
    await rejects(readClassNamesFile(path), path, 'has no names');
    await rejects(readClassNamesFile(join(dir, 'missing.txt')), join(dir, 'missing.txt'), 'no such file');
  });
});

describe('CIFAR-100', () => {
  it('reads coarse and fine labels', async () => {
    const path = join(dir, 'train.bin');
    writeFileSync(path, Buffer.concat([record([4, 77], (c) => c * 100), record([19, 5], () => 255)]));
    const fine = await loadCifar([path], { variant: 'cifar100' });
    expect(fine.numClasses).toBe(100);
    expect(Array.from(fine.labels)).toEqual([77, 5]);
    expect(Array.from(fine.images.subarray(0, 3))).toEqual([0, 100 / 255, 200 / 255].map(Math.fround));
    const coarse = await loadCifar([path], { variant: 'cifar100', labelKind: 'coarse' });
    expect(coarse.numClasses).toBe(20);
    expect(Array.from(coarse.labels)).toEqual([4, 19]);
    const rec = parseCifar(new Uint8Array(Buffer.concat([record([4, 77], () => 0)])), 'cifar100', 'mem');
    expect(Array.from(rec.coarseLabels!)).toEqual([4]);
  });

  it('bad size names the variant record size', async () => {
    const path = join(dir, 'c100bad.bin');
    writeFileSync(path, Buffer.alloc(3073));
    await rejects(loadCifar([path], { variant: 'cifar100' }), path, 'not a multiple of the cifar100 record size 3074');
  });
});
