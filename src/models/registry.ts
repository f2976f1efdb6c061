import { Rng } from '../engine/rng.js';
import { HemlockInputError } from '../engine/errors.js';
import { convnetS } from './convnetS.js';
import { resnet } from './resnet.js';
import { mlp } from './mlp.js';
import { linearHead, mlpHead } from './heads.js';
import { classifier, type Classifier } from './classifier.js';
import type { Module } from './module.js';

/** Everything needed to rebuild a model: stored in every saved model's manifest. */
export interface ModelSpec {
  architecture: ModelName;
  /** Input image shape [H, W, C]. */
  inputShape: [number, number, number];
  numClasses: number;
  head: 'linear' | 'mlp';
  /** Architecture-specific options (widths, depths); defaults fill the rest. */
  options: Record<string, unknown>;
}

type BodyFactory = (spec: ModelSpec, rng: Rng) => Module & { featureDim: number };

const BODIES = {
  'convnet-s': {
    description: 'ConvNet-S (WORKLOADS.md): 3 conv layers 32-64-128, global average pool, 128-d features',
    build: ((spec, rng) => convnetS({ inChannels: spec.inputShape[2], ...(spec.options as object) }, rng)) as BodyFactory,
  },
  resnet: {
    description: 'small CIFAR-style ResNet with batch norm (ResNet-8 by default: width 16, blocks [1,1,1])',
    build: ((spec, rng) => resnet({ inChannels: spec.inputShape[2], ...(spec.options as object) }, rng)) as BodyFactory,
  },
  mlp: {
    description: 'multilayer perceptron on flattened pixels (hidden 256-128 by default)',
    build: ((spec, rng) => mlp({ inDim: spec.inputShape[0] * spec.inputShape[1] * spec.inputShape[2], ...(spec.options as object) }, rng)) as BodyFactory,
  },
} as const;

export type ModelName = keyof typeof BODIES;
export const MODEL_NAMES = Object.keys(BODIES) as ModelName[];

export function listModels(): { name: ModelName; description: string }[] {
  return MODEL_NAMES.map((name) => ({ name, description: BODIES[name].description }));
}

export function isModelName(name: string): name is ModelName {
  return Object.hasOwn(BODIES, name);
}

/** Builds a freshly initialised classifier; the same spec and seed give the same weights. */
export function buildModel(spec: ModelSpec, seed: number | string): Classifier {
  if (!isModelName(spec.architecture)) {
    throw new HemlockInputError(`model: unknown model '${spec.architecture}' (known: ${MODEL_NAMES.join(', ')})`);
  }
  const rng = new Rng(`model/${seed}`);
  const body = BODIES[spec.architecture].build(spec, rng.fork('body'));
  const head =
    spec.head === 'mlp'
      ? mlpHead(body.featureDim, body.featureDim, spec.numClasses, rng.fork('head'))
      : linearHead(body.featureDim, spec.numClasses, rng.fork('head'));
  return classifier(body, head);
}
