import { describe, expect, it } from 'vitest';
import { HemlockInputError } from '../engine/errors.js';
import { ImageDataset, TextDataset, numericClassNames } from './dataset.js';

function catchErr(fn: () => unknown): HemlockInputError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(HemlockInputError);
    return e as HemlockInputError;
  }
  throw new Error('expected a HemlockInputError');
}

function make(n = 4, name = 'toy'): ImageDataset {
  const images = new Float32Array(n * 2 * 2 * 1);
  for (let i = 0; i < images.length; i++) images[i] = (i % 256) / 255;
  const labels = Int32Array.from({ length: n }, (_, i) => i % 3);
  return new ImageDataset({ images, labels, height: 2, width: 2, channels: 1, classNames: ['a', 'b', 'c'], name });
}

describe('ImageDataset', () => {
  it('exposes count, numClasses, shape and views', () => {
    const ds = make(5);
    expect(ds.count).toBe(5);
    expect(ds.numClasses).toBe(3);
    expect(ds.shape).toEqual([5, 2, 2, 1]);
    expect(ds.imageSize).toBe(4);
    expect(Array.from(ds.image(1))).toEqual(Array.from(ds.images.slice(4, 8)));
    expect(ds.labelHistogram()).toEqual([2, 2, 1]);
    expect(ds.labelHistogramByName()).toEqual({ a: 2, b: 2, c: 1 });
  });

  it('rejects a label outside [0, numClasses), naming the dataset and index', () => {
    const e = catchErr(
      () => new ImageDataset({ images: new Float32Array(8), labels: Int32Array.from([0, 3]), height: 2, width: 2, channels: 1, classNames: ['a', 'b', 'c'], name: 'bad-labels' }),
    );
    expect(e.message).toContain('bad-labels');
    expect(e.message).toContain('label 3 at index 1');
  });

  it('rejects negative labels', () => {
    const e = catchErr(
      () => new ImageDataset({ images: new Float32Array(4), labels: Int32Array.from([-1]), height: 2, width: 2, channels: 1, classNames: ['a'], name: 'neg' }),
    );
    expect(e.message).toMatch(/^neg: label -1 at index 0/);
  });

  it('rejects pixel values outside [0, 1] and non-finite values, naming the first bad one', () => {
    const images = new Float32Array(8);
    images[5] = 1.5;
    let e = catchErr(() => new ImageDataset({ images, labels: new Int32Array(2), height: 2, width: 2, channels: 1, classNames: ['a'], name: 'px' }));
    expect(e.message).toContain('px: image 1 (value index 5) has value 1.5');
    images[5] = 0;
    images[2] = NaN;
    e = catchErr(() => new ImageDataset({ images, labels: new Int32Array(2), height: 2, width: 2, channels: 1, classNames: ['a'], name: 'px' }));
    expect(e.message).toContain('image 0 (value index 2) has value NaN');
    images[2] = -Infinity;
    e = catchErr(() => new ImageDataset({ images, labels: new Int32Array(2), height: 2, width: 2, channels: 1, classNames: ['a'], name: 'px' }));
    expect(e.message).toContain('-Infinity');
  });

  it('rejects size mismatches, bad dims and bad class names', () => {
    let e = catchErr(() => new ImageDataset({ images: new Float32Array(7), labels: new Int32Array(2), height: 2, width: 2, channels: 1, classNames: ['a'], name: 'sz' }));
    expect(e.message).toContain('sz: images hold 7 values');
    e = catchErr(() => new ImageDataset({ images: new Float32Array(0), labels: new Int32Array(0), height: 0, width: 2, channels: 1, classNames: ['a'], name: 'dim' }));
    expect(e.message).toContain('dim: height must be a positive integer');
    e = catchErr(() => new ImageDataset({ images: new Float32Array(0), labels: new Int32Array(0), height: 1, width: 1, channels: 1, classNames: ['a', 'a'], name: 'dup' }));
    expect(e.message).toContain("dup: duplicate class name 'a'");
  });

  it('subset copies the chosen images in order', () => {
    const ds = make(4);
    const s = ds.subset([3, 1, 3], 'sub');
    expect(s.name).toBe('sub');
    expect(Array.from(s.labels)).toEqual([0, 1, 0]);
    expect(Array.from(s.image(0))).toEqual(Array.from(ds.image(3)));
    expect(Array.from(s.image(1))).toEqual(Array.from(ds.image(1)));
    s.images[0] = 0.5;
    expect(ds.image(3)[0]).not.toBe(0.5);
    const e = catchErr(() => ds.subset([0, 4]));
    expect(e.message).toContain('toy: subset index 4 (position 1)');
  });

  it('concat joins datasets with the same shape and classes', () => {
    const a = make(2, 'a');
    const b = make(3, 'b');
    const c = a.concat(b);
    expect(c.count).toBe(5);
    expect(Array.from(c.labels)).toEqual([0, 1, 0, 1, 2]);
    expect(Array.from(c.image(2))).toEqual(Array.from(b.image(0)));
    const other = new ImageDataset({ images: new Float32Array(9), labels: new Int32Array(1), height: 3, width: 3, channels: 1, classNames: ['a', 'b', 'c'], name: 'big' });
    expect(catchErr(() => a.concat(other)).message).toContain('cannot concat with big');
  });

  it('filterClasses keeps or relabels', () => {
    const ds = make(6); // labels 0 1 2 0 1 2
    const keep = ds.filterClasses([2, 0], false);
    expect(Array.from(keep.labels)).toEqual([0, 2, 0, 2]);
    expect(keep.classNames).toEqual(['a', 'b', 'c']);
    const rel = ds.filterClasses([2, 0], true);
    expect(Array.from(rel.labels)).toEqual([1, 0, 1, 0]);
    expect(rel.classNames).toEqual(['c', 'a']);
    expect(Array.from(rel.image(1))).toEqual(Array.from(ds.image(2)));
    expect(catchErr(() => ds.filterClasses([5], true)).message).toContain('toy: filterClasses: class 5');
  });
});

describe('TextDataset', () => {
  it('validates, subsets and counts', () => {
    const t = new TextDataset({ texts: ['x', 'y', 'z'], labels: Int32Array.from([1, 0, 1]), classNames: ['neg', 'pos'], name: 'txt' });
    expect(t.count).toBe(3);
    expect(t.labelHistogram()).toEqual([1, 2]);
    expect(t.labelHistogramByName()).toEqual({ neg: 1, pos: 2 });
    const s = t.subset([2, 0]);
    expect(s.texts).toEqual(['z', 'x']);
    expect(Array.from(s.labels)).toEqual([1, 1]);
    const e = catchErr(() => new TextDataset({ texts: ['x'], labels: Int32Array.from([2]), classNames: ['neg', 'pos'], name: 'txt2' }));
    expect(e.message).toContain('txt2: label 2 at index 0');
    expect(catchErr(() => new TextDataset({ texts: ['x'], labels: new Int32Array(2), classNames: ['a'], name: 'n' })).message).toContain('n: 1 texts but 2 labels');
  });

  it('numericClassNames', () => {
    expect(numericClassNames(3)).toEqual(['0', '1', '2']);
  });
});
