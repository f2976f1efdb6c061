import { describe, expect, it } from 'vitest';
import * as data from './index.js';

describe('src/data public API', () => {
  it('re-exports the data layer', () => {
    for (const name of [
      'ImageDataset',
      'TextDataset',
      'readIdx',
      'writeIdx',
      'loadIdxImages',
      'loadCifar',
      'readNpy',
      'writeNpy',
      'loadNpyImages',
      'readImageFolder',
      'writeImageFolder',
      'stratifiedSplit',
      'stratifiedSubset',
      'listDatasets',
      'loadDataset',
      'loadDatasetFromPath',
      'inspectPath',
      'exportDataset',
      'verifyExport',
      'detectLayout',
    ]) {
      expect(typeof (data as Record<string, unknown>)[name], name).toBe('function');
    }
    expect(data.FASHION_MNIST_CLASS_NAMES).toHaveLength(10);
  });
});
