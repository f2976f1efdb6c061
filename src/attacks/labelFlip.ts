import { z } from 'zod';
import type { Attack, AttackContext, AttackResult } from './types.js';
import { extractFeatures } from './t1/features.js';
import { cleanHeadFromContext, encoderFromContext, poisonCount, seedOf, withLabels } from './t1/common.js';

/**
 * Label-flip baselines for T1 (the attacker adds εN labelled points to the
 * downstream training set): copies of εN random clean training images with a
 * wrong label. Nothing is optimised; the images stay valid by construction.
 *
 *  - random: each copy gets a label drawn uniformly from the other classes;
 *  - worst-class: each copy gets the class the clean victim head finds least
 *    likely for it (the wrong label with the largest cross-entropy), which
 *    needs white-box access to the encoder and the clean head.
 */

export const LabelFlipSchema = z.strictObject({
  epsilon: z.number().gt(0).lt(1).default(0.03).describe('Poison budget as a fraction of the clean training set (εN points added).'),
});
export type LabelFlipConfig = z.output<typeof LabelFlipSchema>;

function flipResult(name: string, ctx: AttackContext, config: LabelFlipConfig, sources: Int32Array, labels: Int32Array, extra: Record<string, unknown>): AttackResult {
  const copies = ctx.train.subset(sources);
  const flipped = new Int32Array(labels);
  const poisons = withLabels(copies, flipped);
  const n = ctx.train.count;
  return {
    attack: name,
    config: { ...config },
    seed: seedOf(ctx.rng),
    poisonedTrain: ctx.train.concat(poisons, `${ctx.train.name}+${name}`),
    poisonIndices: Int32Array.from({ length: sources.length }, (_, j) => n + j),
    added: true,
    linfNorms: new Float32Array(sources.length),
    details: { poisonCount: sources.length, sourceIndices: sources, ...extra },
  };
}

export const labelFlipRandomAttack: Attack<typeof LabelFlipSchema> = {
  info: {
    name: 'label-flip-random',
    title: 'Label flip (random wrong label) on εN copies of clean training points',
    paper: 'baseline (Lu, Yang, Kamath, Yu, SaTML 2024 compare against label flipping)',
    capabilities: { needsGradients: false, needsLabels: true, controlsPretraining: false, modality: 'image', stage: 'downstream-data', threatModel: 'T1' },
    fidelity: 'reproduced',
    fidelityNote: 'Baseline as in the papers: ≤ 2.2 points of accuracy drop at ε = 10% on a SimCLR ConvNet-S linear probe (experiments/t1/RESULTS.md, 3 seeds, same-dataset and transfer, full Fashion-MNIST ≤ 1.6 points).',
  },
  configSchema: LabelFlipSchema,
  async craft(ctx, config) {
    const k = ctx.train.numClasses;
    const p = poisonCount(config.epsilon, ctx.train.count);
    const sources = ctx.rng.fork('sources').sample(ctx.train.count, p);
    const r = ctx.rng.fork('labels');
    const labels = new Int32Array(p);
    for (let j = 0; j < p; j++) {
      const y = ctx.train.labels[sources[j]!]!;
      labels[j] = (y + 1 + r.int(k - 1)) % k;
    }
    return flipResult('label-flip-random', ctx, config, sources, labels, {});
  },
};

export const labelFlipWorstAttack: Attack<typeof LabelFlipSchema> = {
  info: {
    name: 'label-flip-worst',
    title: "Label flip to the class the clean head finds least likely (worst class per point)",
    paper: 'baseline (Lu, Yang, Kamath, Yu, SaTML 2024 compare against label flipping)',
    capabilities: { needsGradients: true, needsLabels: true, controlsPretraining: false, modality: 'image', stage: 'downstream-data', threatModel: 'T1' },
    fidelity: 'reproduced',
    fidelityNote: 'Baseline as in the papers: ≤ 2.2 points of accuracy drop at ε = 10% on a SimCLR ConvNet-S linear probe (experiments/t1/RESULTS.md, 3 seeds, same-dataset and transfer, full Fashion-MNIST ≤ 1.6 points).',
  },
  configSchema: LabelFlipSchema,
  async craft(ctx, config) {
    const encoder = encoderFromContext(ctx);
    const head = cleanHeadFromContext(ctx);
    const p = poisonCount(config.epsilon, ctx.train.count);
    const sources = ctx.rng.fork('sources').sample(ctx.train.count, p);
    const z = extractFeatures(encoder, ctx.train);
    const { dim, numClasses: k } = head;
    const labels = new Int32Array(p);
    for (let j = 0; j < p; j++) {
      const i = sources[j]!;
      const y = ctx.train.labels[i]!;
      let best = -1;
      let bestLogit = Infinity;
      for (let c = 0; c < k; c++) {
        if (c === y) continue;
        let v = head.b[c]!;
        for (let q = 0; q < dim; q++) v += z[i * dim + q]! * head.w[q * k + c]!;
        if (v < bestLogit) {
          bestLogit = v;
          best = c;
        }
      }
      labels[j] = best;
    }
    return flipResult('label-flip-worst', ctx, config, sources, labels, {});
  },
};
