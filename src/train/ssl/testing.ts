import { tf } from '../../engine/tf.js';
import { buildModel, type ModelSpec } from '../../models/registry.js';
import { disposeModule } from '../../models/module.js';
import { syntheticShapes } from '../../testing/sslFixtures.js';
import { linearProbe, type LinearProbeConfig } from '../probe.js';
import { knnAccuracy } from './knn.js';
import { pretrainSsl, type PretrainResult } from './pretrain.js';
import { SSL_AUGMENT_DEFAULTS } from './sslAugment.js';
import type { SslCommonConfig, SslConfig, SslMethodOptions } from './types.js';

/**
 * Shared set-up of the SSL method tests: a tiny ConvNet-S on 16×16 shapes,
 * pre-trained for a few dozen steps, compared with the same network at its
 * random initialisation (same seed) by k-NN and a linear probe.
 */
export const TINY_SPEC: ModelSpec = { architecture: 'convnet-s', inputShape: [16, 16, 1], numClasses: 3, head: 'linear', options: { widths: [8, 16, 32] } };

export function tinyConfig(options: SslMethodOptions, overrides: Partial<SslCommonConfig> = {}): SslConfig {
  return {
    ...options,
    epochs: 40,
    batchSize: 64,
    projector: { hidden: 32, out: 16, layers: 2, batchNorm: true },
    optimizer: { kind: 'adam', lr: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 },
    schedule: { kind: 'constant' },
    augment: { ...SSL_AUGMENT_DEFAULTS, cropScale: [0.5, 1] },
    knn: { k: 5, temperature: 0.1, every: 0, bankLimit: 1000, queryLimit: 1000 },
    ...overrides,
  };
}

const PROBE: LinearProbeConfig = {
  epochs: 200,
  optimizer: { kind: 'adam', lr: 0.05, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 },
  schedule: { kind: 'constant' },
  standardize: true,
  seed: 0,
};

export interface TinyOutcome {
  result: PretrainResult;
  probe: number;
  randomProbe: number;
  knn: number;
  randomKnn: number;
  tensorsBefore: number;
  tensorsAfter: number;
}

/** Pre-trains a tiny encoder with `cfg` (pre-training seed `seed`) and measures it against its own random initialisation. */
export async function tinyPretrainOutcome(cfg: SslConfig, seed = 0): Promise<TinyOutcome> {
  const train = syntheticShapes(192, { seed: 1 });
  const test = syntheticShapes(90, { seed: 2 });
  const tensorsBefore = tf.memory().numTensors;
  const random = buildModel(TINY_SPEC, 3);
  const randomKnn = knnAccuracy(random.body, train, test, 3, cfg.knn);
  const randomProbe = (await linearProbe(random.body, train, test, 3, PROBE)).testAccuracy;
  disposeModule(random);
  const model = buildModel(TINY_SPEC, 3);
  const result = await pretrainSsl(model.body, train, cfg, seed, { monitor: { bank: train, query: test, numClasses: 3 } });
  const probe = (await linearProbe(model.body, train, test, 3, PROBE)).testAccuracy;
  disposeModule(model);
  return { result, probe, randomProbe, knn: result.knnAccuracy!, randomKnn, tensorsBefore, tensorsAfter: tf.memory().numTensors };
}
