// Public API of the data layer: datasets as plain typed arrays, readers and
// writers for IDX / CIFAR / NPY / image folders, splits, built-in datasets,
// inspection and export.
export { ImageDataset, TextDataset, numericClassNames } from './dataset.js';
export type { ImageDatasetInit, ImageDatasetOptions, TextDatasetInit } from './dataset.js';

export {
  readIdx,
  parseIdx,
  parseIdxHeader,
  encodeIdx,
  writeIdx,
  loadIdxImages,
  idxToDataset,
  IDX_DTYPE_CODES,
  IDX_DTYPE_SIZES,
} from './idx.js';
export type { IdxArray, IdxData, IdxDtype, IdxHeader, LoadIdxImagesOptions } from './idx.js';

export { parseCifar, loadCifar, readClassNamesFile, CIFAR10_CLASS_NAMES, CIFAR_RECORD_BYTES } from './cifar.js';
export type { CifarVariant, CifarRecords, LoadCifarOptions } from './cifar.js';

export { readNpy, parseNpy, parseNpyHeader, encodeNpy, writeNpy, loadNpyImages } from './npy.js';
export type { NpyArray, NpyData, NpyDtype, NpyHeader, NpyWriteDtype, LoadNpyImagesOptions } from './npy.js';

export { readImageFolder, writeImageFolder, listImageFolder, probeImage, classFolderName, CLASSES_FILE } from './imageFolder.js';
export type { ReadImageFolderOptions, WriteImageFolderOptions, ImageFolderListing, ImageInfo } from './imageFolder.js';

export { stratifiedSplit, stratifiedSubset } from './splits.js';
export type { SplitSpec } from './splits.js';

export { detectLayout, readSidecarClassNames } from './layout.js';
export type { DatasetLayout, DatasetLayoutKind } from './layout.js';

export {
  listDatasets,
  loadDataset,
  loadDatasetFromPath,
  FASHION_MNIST_CLASS_NAMES,
  FASHION_MNIST_DEFAULT_DIR,
  FASHION_MNIST_MINI_DIR,
} from './builtin.js';
export type { BuiltinDatasetInfo, LoadDatasetOptions, LoadFromPathOptions, TrainTest } from './builtin.js';

export { inspectPath } from './inspect.js';
export type { InspectFormat, InspectResult } from './inspect.js';

export { exportDataset, verifyExport, isUint8Exact, MANIFEST_FILE } from './export.js';
export type { ExportFormat, ExportManifest, ExportOptions, ExportPrefix, ExportResult, ManifestSplit } from './export.js';
