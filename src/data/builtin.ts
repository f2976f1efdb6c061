import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inputError } from '../engine/errors.js';
import { loadCifar } from './cifar.js';
import { ImageDataset, numericClassNames } from './dataset.js';
import { readImageFolder } from './imageFolder.js';
import { loadIdxImages } from './idx.js';
import { exists, listDir } from './io.js';
import { detectLayout, LAYOUT_HELP, readSidecarClassNames, type DatasetLayout, type DatasetLayoutKind } from './layout.js';
import { loadNpyImages } from './npy.js';

export const FASHION_MNIST_CLASS_NAMES = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
];

/** Where Debian's dataset-fashion-mnist package installs the four .gz IDX files. */
export const FASHION_MNIST_DEFAULT_DIR = '/usr/share/datasets/fashion-mnist';

/** The repository's bundled 6,000/1,000 subset (resolves from src/data and dist/data alike). */
export const FASHION_MNIST_MINI_DIR = fileURLToPath(new URL('../../data/fashion-mnist-mini', import.meta.url));

export interface TrainTest {
  train: ImageDataset;
  test: ImageDataset;
}

export interface LoadDatasetOptions {
  /** Directory holding the files, for datasets read from outside the repository. */
  dataDir?: string;
}

export interface BuiltinDatasetInfo {
  name: string;
  description: string;
  /** Train / test sizes. */
  sizes: { train: number; test: number };
  shape: [number, number, number];
  numClasses: number;
  source: string;
  license: string;
  /** Where the files are read from by default. */
  defaultDir: string;
}

interface BuiltinDataset extends BuiltinDatasetInfo {
  load(opts: LoadDatasetOptions): Promise<TrainTest>;
}

async function loadFashionMnistDir(name: string, dir: string, missingHint: string): Promise<TrainTest> {
  let names: string[] = [];
  if (await exists(dir)) names = (await listDir(dir)).map((e) => e.name);
  const wanted = ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'];
  const present = (base: string): string | undefined => (names.includes(base) ? base : names.includes(`${base}.gz`) ? `${base}.gz` : undefined);
  const files = wanted.map(present);
  if (files.some((f) => f === undefined)) {
    inputError(name, `not found in ${dir} (${missingHint})`);
  }
  const [trX, trY, teX, teY] = files.map((f) => join(dir, f!)) as [string, string, string, string];
  const [train, test] = await Promise.all([
    loadIdxImages(trX, trY, { name: `${name}/train`, classNames: FASHION_MNIST_CLASS_NAMES }),
    loadIdxImages(teX, teY, { name: `${name}/test`, classNames: FASHION_MNIST_CLASS_NAMES }),
  ]);
  return { train, test };
}

const FASHION_SOURCE = 'https://github.com/zalandoresearch/fashion-mnist';
const FASHION_LICENSE = 'MIT (Zalando SE)';

const REGISTRY: BuiltinDataset[] = [
  {
    name: 'fashion-mnist-mini',
    description: 'Balanced seeded subset of Fashion-MNIST bundled with hemlock: 600 train + 100 test images per class',
    sizes: { train: 6000, test: 1000 },
    shape: [28, 28, 1],
    numClasses: 10,
    source: `${FASHION_SOURCE} (subset made by scripts/make-fashion-mnist-mini.mjs)`,
    license: FASHION_LICENSE,
    defaultDir: FASHION_MNIST_MINI_DIR,
    load: (opts) =>
      loadFashionMnistDir(
        'fashion-mnist-mini',
        opts.dataDir ?? FASHION_MNIST_MINI_DIR,
        'the bundled files are missing; regenerate them with: node scripts/make-fashion-mnist-mini.mjs',
      ),
  },
  {
    name: 'fashion-mnist',
    description: 'Fashion-MNIST: 60,000 train + 10,000 test 28×28 grayscale images of clothing in 10 classes',
    sizes: { train: 60000, test: 10000 },
    shape: [28, 28, 1],
    numClasses: 10,
    source: FASHION_SOURCE,
    license: FASHION_LICENSE,
    defaultDir: FASHION_MNIST_DEFAULT_DIR,
    load: (opts) =>
      loadFashionMnistDir(
        'fashion-mnist',
        opts.dataDir ?? FASHION_MNIST_DEFAULT_DIR,
        "install Debian's dataset-fashion-mnist: apt-get install dataset-fashion-mnist, or pass --data-dir",
      ),
  },
];

/** The built-in datasets, in a stable order. */
export function listDatasets(): BuiltinDatasetInfo[] {
  return REGISTRY.map(({ load: _load, ...info }) => ({ ...info, sizes: { ...info.sizes }, shape: [...info.shape] as [number, number, number] }));
}

/** Loads a built-in dataset by name (see listDatasets). */
export async function loadDataset(name: string, opts: LoadDatasetOptions = {}): Promise<TrainTest> {
  const ds = REGISTRY.find((d) => d.name === name);
  if (!ds) inputError(name, `unknown dataset (built-in: ${REGISTRY.map((d) => d.name).join(', ')}; for a directory use loadDatasetFromPath)`);
  return ds.load(opts);
}

function withClassNames(ds: ImageDataset, classNames: string[]): ImageDataset {
  return new ImageDataset(
    { images: ds.images, labels: ds.labels, height: ds.height, width: ds.width, channels: ds.channels, classNames, name: ds.name },
    { trustedPixels: true },
  );
}

/** Gives train and test the same numeric class list when neither file set named the classes. */
function unifyNumeric(p: TrainTest): TrainTest {
  const k = Math.max(p.train.numClasses, p.test.numClasses);
  const names = numericClassNames(k);
  return {
    train: p.train.numClasses === k ? p.train : withClassNames(p.train, names),
    test: p.test.numClasses === k ? p.test : withClassNames(p.test, names),
  };
}

export interface LoadFromPathOptions {
  /** CIFAR-100: fine (100 classes, default) or coarse (20 superclasses) labels. */
  labelKind?: 'fine' | 'coarse';
  /** Image folders: resize to this size (default: the first train image's size). */
  size?: { height: number; width: number };
  /** Image folders: 1 or 3 channels (default: 1 if every train image is grayscale). */
  channels?: 1 | 3;
}

/**
 * Loads a dataset directory of any layout detectLayout knows: IDX files,
 * CIFAR-10/100 binary batches, an NPY quartet, or image folders train/ and
 * test/. Anything else is a HemlockInputError naming `path`.
 */
export async function loadDatasetFromPath(path: string, opts: LoadFromPathOptions = {}): Promise<TrainTest & { layout: DatasetLayoutKind }> {
  const dir = resolve(path);
  const layout = await detectLayout(dir);
  if (!layout) inputError(path, `not a recognised dataset directory (${LAYOUT_HELP})`);
  const base = basename(dir);
  return { ...(await loadLayout(layout, base, opts)), layout: layout.kind };
}

async function loadLayout(layout: DatasetLayout, base: string, opts: LoadFromPathOptions): Promise<TrainTest> {
  const trainName = `${base}/train`;
  const testName = `${base}/test`;
  switch (layout.kind) {
    case 'idx': {
      const classNames = await readSidecarClassNames(layout.dir);
      const [train, test] = await Promise.all([
        loadIdxImages(layout.train.images, layout.train.labels, { name: trainName, ...(classNames ? { classNames } : {}) }),
        loadIdxImages(layout.test.images, layout.test.labels, { name: testName, ...(classNames ? { classNames } : {}) }),
      ]);
      checkSameImageShape(layout.dir, train, test);
      return classNames ? { train, test } : unifyNumeric({ train, test });
    }
    case 'npy': {
      const classNames = await readSidecarClassNames(layout.dir);
      const [train, test] = await Promise.all([
        loadNpyImages(layout.train.x, layout.train.y, { name: trainName, ...(classNames ? { classNames } : {}) }),
        loadNpyImages(layout.test.x, layout.test.y, { name: testName, ...(classNames ? { classNames } : {}) }),
      ]);
      checkSameImageShape(layout.dir, train, test);
      return classNames ? { train, test } : unifyNumeric({ train, test });
    }
    case 'cifar10': {
      const common = { variant: 'cifar10' as const, ...(layout.classNamesPath ? { classNamesPath: layout.classNamesPath } : {}) };
      const [train, test] = await Promise.all([
        loadCifar(layout.train, { ...common, name: trainName }),
        loadCifar(layout.test, { ...common, name: testName }),
      ]);
      return { train, test };
    }
    case 'cifar100': {
      const labelKind = opts.labelKind ?? 'fine';
      const namesPath = labelKind === 'fine' ? layout.fineNamesPath : layout.coarseNamesPath;
      const common = { variant: 'cifar100' as const, labelKind, ...(namesPath ? { classNamesPath: namesPath } : {}) };
      const [train, test] = await Promise.all([
        loadCifar(layout.train, { ...common, name: trainName }),
        loadCifar(layout.test, { ...common, name: testName }),
      ]);
      return { train, test };
    }
    case 'image-folder': {
      const train = await readImageFolder(layout.train, {
        name: trainName,
        ...(opts.size ? { size: opts.size } : {}),
        ...(opts.channels ? { channels: opts.channels } : {}),
      });
      const test = await readImageFolder(layout.test, {
        name: testName,
        size: { height: train.height, width: train.width },
        channels: train.channels as 1 | 3,
      });
      if (train.classNames.join('\n') !== test.classNames.join('\n')) {
        inputError(layout.dir, `train/ classes [${train.classNames.join(', ')}] differ from test/ classes [${test.classNames.join(', ')}]`);
      }
      return { train, test };
    }
  }
}

function checkSameImageShape(dir: string, train: ImageDataset, test: ImageDataset): void {
  if (train.height !== test.height || train.width !== test.width || train.channels !== test.channels) {
    inputError(dir, `train images are ${train.height}×${train.width}×${train.channels} but test images are ${test.height}×${test.width}×${test.channels}`);
  }
}
