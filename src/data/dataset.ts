import { HemlockInputError } from '../engine/errors.js';

/** Fields needed to build an ImageDataset. */
export interface ImageDatasetInit {
  /** NHWC pixel values in [0, 1]; length must be count × height × width × channels. */
  images: Float32Array;
  /** One integer label per image, each in [0, classNames.length). */
  labels: Int32Array;
  height: number;
  width: number;
  channels: number;
  classNames: string[];
  name: string;
}

/** Options for the ImageDataset constructor. */
export interface ImageDatasetOptions {
  /**
   * Skip the O(N·H·W·C) scan of pixel values. Sizes and labels are always
   * checked; only set this when the pixels come from an already validated
   * dataset (subset, concat, filterClasses do this internally).
   */
  trustedPixels?: boolean;
}

function fail(name: string, problem: string): never {
  throw new HemlockInputError(`${name}: ${problem}`);
}

function checkDim(name: string, what: string, v: number): void {
  if (!Number.isInteger(v) || v <= 0) fail(name, `${what} must be a positive integer, got ${v}`);
}

function checkClassNames(name: string, classNames: string[]): void {
  if (!Array.isArray(classNames) || classNames.length === 0) fail(name, 'classNames must be a non-empty array');
  const seen = new Set<string>();
  for (let i = 0; i < classNames.length; i++) {
    const c = classNames[i];
    if (typeof c !== 'string' || c.length === 0) fail(name, `class name ${i} must be a non-empty string`);
    if (seen.has(c)) fail(name, `duplicate class name '${c}' (index ${i})`);
    seen.add(c);
  }
}

function checkLabels(name: string, labels: Int32Array, numClasses: number): void {
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i]!;
    if (l < 0 || l >= numClasses) fail(name, `label ${l} at index ${i} is outside [0, ${numClasses})`);
  }
}

function histogram(labels: Int32Array, numClasses: number): number[] {
  const h = new Array<number>(numClasses).fill(0);
  for (let i = 0; i < labels.length; i++) h[labels[i]!]!++;
  return h;
}

function toIndexArray(name: string, indices: ArrayLike<number>, count: number): Int32Array {
  const out = new Int32Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const j = indices[i]!;
    if (!Number.isInteger(j) || j < 0 || j >= count) {
      fail(name, `subset index ${j} (position ${i}) is outside [0, ${count})`);
    }
    out[i] = j;
  }
  return out;
}

/**
 * A labelled image dataset held as plain typed arrays: `images` is NHWC
 * float32 in [0, 1], `labels` int32 class indices. Instances are treated as
 * immutable by the library (methods return new datasets with copied arrays).
 */
export class ImageDataset {
  readonly images: Float32Array;
  readonly labels: Int32Array;
  readonly height: number;
  readonly width: number;
  readonly channels: number;
  readonly classNames: string[];
  readonly name: string;

  constructor(init: ImageDatasetInit, opts: ImageDatasetOptions = {}) {
    const { images, labels, height, width, channels, classNames, name } = init;
    if (typeof name !== 'string' || name.length === 0) throw new HemlockInputError('dataset: name must be a non-empty string');
    checkDim(name, 'height', height);
    checkDim(name, 'width', width);
    checkDim(name, 'channels', channels);
    checkClassNames(name, classNames);
    if (!(images instanceof Float32Array)) fail(name, 'images must be a Float32Array');
    if (!(labels instanceof Int32Array)) fail(name, 'labels must be an Int32Array');
    const per = height * width * channels;
    if (images.length !== labels.length * per) {
      fail(
        name,
        `images hold ${images.length} values but ${labels.length} labels × ${height}×${width}×${channels} needs ${labels.length * per}`,
      );
    }
    checkLabels(name, labels, classNames.length);
    if (!opts.trustedPixels) {
      for (let i = 0; i < images.length; i++) {
        const v = images[i]!;
        // NaN fails both comparisons' negation, so test for "not in range" explicitly.
        if (!(v >= 0 && v <= 1)) {
          const img = Math.floor(i / per);
          fail(name, `image ${img} (value index ${i}) has value ${v}; pixel values must be finite and in [0, 1]`);
        }
      }
    }
    this.images = images;
    this.labels = labels;
    this.height = height;
    this.width = width;
    this.channels = channels;
    this.classNames = classNames.slice();
    this.name = name;
  }

  get count(): number {
    return this.labels.length;
  }

  get numClasses(): number {
    return this.classNames.length;
  }

  /** [N, H, W, C] */
  get shape(): [number, number, number, number] {
    return [this.count, this.height, this.width, this.channels];
  }

  /** Values per image (H × W × C). */
  get imageSize(): number {
    return this.height * this.width * this.channels;
  }

  /** A view (not a copy) of image `i`'s HWC values. */
  image(i: number): Float32Array {
    if (!Number.isInteger(i) || i < 0 || i >= this.count) fail(this.name, `image index ${i} is outside [0, ${this.count})`);
    const per = this.imageSize;
    return this.images.subarray(i * per, (i + 1) * per);
  }

  /** A new dataset holding copies of the given images, in the given order (repeats allowed). */
  subset(indices: ArrayLike<number>, name?: string): ImageDataset {
    const idx = toIndexArray(this.name, indices, this.count);
    const per = this.imageSize;
    const images = new Float32Array(idx.length * per);
    const labels = new Int32Array(idx.length);
    for (let k = 0; k < idx.length; k++) {
      const j = idx[k]!;
      images.set(this.images.subarray(j * per, (j + 1) * per), k * per);
      labels[k] = this.labels[j]!;
    }
    return new ImageDataset(
      { images, labels, height: this.height, width: this.width, channels: this.channels, classNames: this.classNames, name: name ?? this.name },
      { trustedPixels: true },
    );
  }

  /** This dataset followed by `other`; both must have the same image shape and class names. */
  concat(other: ImageDataset, name?: string): ImageDataset {
    if (other.height !== this.height || other.width !== this.width || other.channels !== this.channels) {
      fail(
        this.name,
        `cannot concat with ${other.name}: image shape ${other.height}×${other.width}×${other.channels} differs from ${this.height}×${this.width}×${this.channels}`,
      );
    }
    if (other.classNames.length !== this.classNames.length || other.classNames.some((c, i) => c !== this.classNames[i])) {
      fail(this.name, `cannot concat with ${other.name}: class names differ ([${this.classNames.join(', ')}] vs [${other.classNames.join(', ')}])`);
    }
    const images = new Float32Array(this.images.length + other.images.length);
    images.set(this.images, 0);
    images.set(other.images, this.images.length);
    const labels = new Int32Array(this.count + other.count);
    labels.set(this.labels, 0);
    labels.set(other.labels, this.count);
    return new ImageDataset(
      { images, labels, height: this.height, width: this.width, channels: this.channels, classNames: this.classNames, name: name ?? this.name },
      { trustedPixels: true },
    );
  }

  /** Number of images per class index (length numClasses). */
  labelHistogram(): number[] {
    return histogram(this.labels, this.numClasses);
  }

  /** Number of images per class name. */
  labelHistogramByName(): Record<string, number> {
    const h = this.labelHistogram();
    return Object.fromEntries(this.classNames.map((c, i) => [c, h[i]!]));
  }

  /**
   * Keeps only images whose label is in `classes` (class indices, no repeats),
   * preserving order. With `relabel`, labels become positions in `classes`
   * and classNames become the selected names in that order; without it,
   * labels and classNames are unchanged.
   */
  filterClasses(classes: number[], relabel: boolean, name?: string): ImageDataset {
    if (classes.length === 0) fail(this.name, 'filterClasses: no classes given');
    const map = new Int32Array(this.numClasses).fill(-1);
    classes.forEach((c, pos) => {
      if (!Number.isInteger(c) || c < 0 || c >= this.numClasses) fail(this.name, `filterClasses: class ${c} is outside [0, ${this.numClasses})`);
      if (map[c] !== -1) fail(this.name, `filterClasses: class ${c} listed twice`);
      map[c] = pos;
    });
    const keep: number[] = [];
    for (let i = 0; i < this.count; i++) if (map[this.labels[i]!] !== -1) keep.push(i);
    const sub = this.subset(keep, name);
    if (!relabel) return sub;
    const labels = new Int32Array(sub.count);
    for (let i = 0; i < sub.count; i++) labels[i] = map[sub.labels[i]!]!;
    return new ImageDataset(
      {
        images: sub.images,
        labels,
        height: sub.height,
        width: sub.width,
        channels: sub.channels,
        classNames: classes.map((c) => this.classNames[c]!),
        name: sub.name,
      },
      { trustedPixels: true },
    );
  }
}

/** Fields needed to build a TextDataset. */
export interface TextDatasetInit {
  texts: string[];
  labels: Int32Array;
  classNames: string[];
  name: string;
}

/** A labelled text dataset: one string and one int32 class index per example. */
export class TextDataset {
  readonly texts: string[];
  readonly labels: Int32Array;
  readonly classNames: string[];
  readonly name: string;

  constructor(init: TextDatasetInit) {
    const { texts, labels, classNames, name } = init;
    if (typeof name !== 'string' || name.length === 0) throw new HemlockInputError('dataset: name must be a non-empty string');
    checkClassNames(name, classNames);
    if (!Array.isArray(texts)) fail(name, 'texts must be an array of strings');
    if (!(labels instanceof Int32Array)) fail(name, 'labels must be an Int32Array');
    if (texts.length !== labels.length) fail(name, `${texts.length} texts but ${labels.length} labels`);
    for (let i = 0; i < texts.length; i++) {
      if (typeof texts[i] !== 'string') fail(name, `text at index ${i} is not a string`);
    }
    checkLabels(name, labels, classNames.length);
    this.texts = texts.slice();
    this.labels = labels;
    this.classNames = classNames.slice();
    this.name = name;
  }

  get count(): number {
    return this.labels.length;
  }

  get numClasses(): number {
    return this.classNames.length;
  }

  subset(indices: ArrayLike<number>, name?: string): TextDataset {
    const idx = toIndexArray(this.name, indices, this.count);
    const texts = new Array<string>(idx.length);
    const labels = new Int32Array(idx.length);
    for (let k = 0; k < idx.length; k++) {
      texts[k] = this.texts[idx[k]!]!;
      labels[k] = this.labels[idx[k]!]!;
    }
    return new TextDataset({ texts, labels, classNames: this.classNames, name: name ?? this.name });
  }

  labelHistogram(): number[] {
    return histogram(this.labels, this.numClasses);
  }

  labelHistogramByName(): Record<string, number> {
    const h = this.labelHistogram();
    return Object.fromEntries(this.classNames.map((c, i) => [c, h[i]!]));
  }
}

/** Class names '0', '1', … for datasets that ship without names. */
export function numericClassNames(n: number): string[] {
  return Array.from({ length: n }, (_, i) => String(i));
}
