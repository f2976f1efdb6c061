import { existsSync } from 'node:fs';
import { Rng } from '../engine/rng.js';
import { HemlockInputError } from '../engine/errors.js';
import { listDatasets, loadDataset, loadDatasetFromPath, type TrainTest } from '../data/builtin.js';
import { stratifiedSplit } from '../data/splits.js';
import type { ImageDataset } from '../data/dataset.js';
import type { Experiment } from './schema.js';
import type { ModelName, ModelSpec } from '../models/registry.js';
import type { SupervisedConfig } from '../train/trainer.js';

/** Datasets whose classes are unchanged by a horizontal flip, so 'auto' flipping is on. */
const MIRROR_INVARIANT = /fashion|cifar/i;

export function flipAllowed(datasetName: string): boolean {
  return MIRROR_INVARIANT.test(datasetName);
}

function limit(ds: ImageDataset, n: number | undefined, rng: Rng, field: string): ImageDataset {
  if (n === undefined || n >= ds.count) return ds;
  if (n < ds.numClasses) throw new HemlockInputError(`${field}: ${n} is fewer than the ${ds.numClasses} classes`);
  const [keep] = stratifiedSplit(ds.labels, { counts: [n, ds.count - n] }, rng);
  return ds.subset(keep!);
}

/**
 * Loads the data an experiment names: a built-in dataset or a dataset
 * directory, then the class filter and the seeded, class-balanced limits.
 */
export async function loadExperimentData(data: Experiment['data'], seed: number): Promise<TrainTest> {
  const builtin = listDatasets().some((d) => d.name === data.dataset);
  let tt: TrainTest;
  if (builtin) tt = await loadDataset(data.dataset, data.dataDir ? { dataDir: data.dataDir } : {});
  else if (existsSync(data.dataset)) tt = await loadDatasetFromPath(data.dataset);
  else {
    throw new HemlockInputError(
      `data.dataset: unknown dataset '${data.dataset}' (built-in: ${listDatasets().map((d) => d.name).join(', ')}; or give a dataset directory)`,
    );
  }
  let { train, test } = tt;
  if (data.classes) {
    for (const c of data.classes) {
      if (c >= train.numClasses) throw new HemlockInputError(`data.classes: class ${c} does not exist (${train.numClasses} classes)`);
    }
    train = train.filterClasses(data.classes, true);
    test = test.filterClasses(data.classes, true);
  }
  const rng = new Rng(`data/${seed}`);
  return {
    train: limit(train, data.trainLimit, rng.fork('train'), 'data.trainLimit'),
    test: limit(test, data.testLimit, rng.fork('test'), 'data.testLimit'),
  };
}

/** The model the spec's `model` section builds for this data (input shape and classes from the data). */
export function modelSpecFor(exp: Experiment, data: TrainTest): ModelSpec {
  return {
    architecture: exp.model.architecture as ModelName,
    inputShape: [data.train.height, data.train.width, data.train.channels],
    numClasses: data.train.numClasses,
    head: exp.model.head,
    options: exp.model.options,
  };
}

/** The spec's `train` section as a trainer config (flip 'auto' resolved for the dataset, seed = the spec's seed). */
export function supervisedRecipeOf(exp: Experiment): SupervisedConfig {
  return {
    epochs: exp.train.epochs,
    batchSize: exp.train.batchSize,
    optimizer: exp.train.optimizer,
    schedule: exp.train.schedule,
    augment: { ...exp.train.augment, flip: exp.train.augment.flip === 'auto' ? flipAllowed(exp.data.dataset) : exp.train.augment.flip },
    seed: exp.seed,
  };
}
