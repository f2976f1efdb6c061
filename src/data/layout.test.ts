import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HemlockInputError } from '../engine/errors.js';
import { detectLayout, findIdxFiles, readSidecarClassNames } from './layout.js';

const root = mkdtempSync(join(tmpdir(), 'hemlock-layout-'));
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

function touch(dir: string, ...names: string[]): string {
  mkdirSync(dir, { recursive: true });
  for (const n of names) writeFileSync(join(dir, n), '');
  return dir;
}

describe('findIdxFiles', () => {
  it('accepts train/t10k/test prefixes, raw or gz, preferring raw', () => {
    const l = findIdxFiles('/d', [
      'train-images-idx3-ubyte.gz',
      'train-images-idx3-ubyte',
      'train-labels.idx1-ubyte',
      'test-images-idx4-float.gz',
      't10k-labels-idx1-ubyte.gz',
      'README',
    ]);
    expect(l).toEqual({
      kind: 'idx',
      dir: '/d',
      train: { images: join('/d', 'train-images-idx3-ubyte'), labels: join('/d', 'train-labels.idx1-ubyte') },
      test: { images: join('/d', 'test-images-idx4-float.gz'), labels: join('/d', 't10k-labels-idx1-ubyte.gz') },
    });
    expect(findIdxFiles('/d', ['a.txt'])).toBeNull();
  });

  it('names what is missing or ambiguous', () => {
    const err = (fn: () => unknown): Error => {
      try {
        fn();
      } catch (e) {
        expect(e).toBeInstanceOf(HemlockInputError);
        return e as Error;
      }
      throw new Error('expected a HemlockInputError');
    };
    expect(err(() => findIdxFiles('/d', ['train-images-idx3-ubyte'])).message).toMatch(/^\/d: incomplete IDX dataset: no train labels/);
    expect(
      err(() =>
        findIdxFiles('/d', ['train-images-idx3-ubyte', 'train-images.idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte']),
      ).message,
    ).toContain('/d: ambiguous IDX dataset: several train-images files');
  });
});

describe('detectLayout', () => {
  it('recognises each layout', async () => {
    expect((await detectLayout(touch(join(root, 'c10'), 'data_batch_2.bin', 'data_batch_10.bin', 'data_batch_1.bin', 'test_batch.bin')))!).toMatchObject({
      kind: 'cifar10',
      train: ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_10.bin'].map((b) => join(root, 'c10', b)),
    });
    expect((await detectLayout(touch(join(root, 'c100'), 'train.bin', 'test.bin', 'fine_label_names.txt')))!).toMatchObject({
      kind: 'cifar100',
      fineNamesPath: join(root, 'c100', 'fine_label_names.txt'),
    });
    expect((await detectLayout(touch(join(root, 'npy'), 'x_train.npy', 'y_train.npy', 'x_test.npy', 'y_test.npy')))!.kind).toBe('npy');
    mkdirSync(join(root, 'img', 'train'), { recursive: true });
    mkdirSync(join(root, 'img', 'test'), { recursive: true });
    expect((await detectLayout(join(root, 'img')))!.kind).toBe('image-folder');
    touch(join(root, 'wrapped', 'cifar-100-binary'), 'train.bin', 'test.bin');
    touch(join(root, 'wrapped'), 'cifar-100-binary.tar.gz');
    expect((await detectLayout(join(root, 'wrapped')))!.dir).toBe(join(root, 'wrapped', 'cifar-100-binary'));
    expect(await detectLayout(touch(join(root, 'none'), 'a.txt'))).toBeNull();
  });

  it('partial layouts and non-directories are errors naming the path', async () => {
    await rejects(detectLayout(touch(join(root, 'p10'), 'data_batch_1.bin')), join(root, 'p10'), 'no test_batch.bin');
    await rejects(detectLayout(touch(join(root, 'p100'), 'train.bin')), join(root, 'p100'), 'need both train.bin and test.bin');
    await rejects(detectLayout(join(root, 'p10', 'data_batch_1.bin')), 'data_batch_1.bin: not a directory');
  });
});

describe('readSidecarClassNames', () => {
  it('reads manifest.json classNames, then classes.txt', async () => {
    const dir = touch(join(root, 'side'));
    expect(await readSidecarClassNames(dir)).toBeUndefined();
    writeFileSync(join(dir, 'classes.txt'), 'x\ny\n');
    expect(await readSidecarClassNames(dir)).toEqual(['x', 'y']);
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ classNames: ['p', 'q'] }));
    expect(await readSidecarClassNames(dir)).toEqual(['p', 'q']);
    writeFileSync(join(dir, 'manifest.json'), '{oops');
    await rejects(readSidecarClassNames(dir), join(dir, 'manifest.json'), 'invalid JSON');
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ classNames: [1] }));
    await rejects(readSidecarClassNames(dir), join(dir, 'manifest.json'), 'classNames must be');
  });
});
