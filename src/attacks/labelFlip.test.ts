import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../engine/backend.js';
import { Rng } from '../engine/rng.js';
import { tinyT1, type TinyT1 } from '../testing/t1Fixtures.js';
import { extractFeatures, featureSet } from './t1/features.js';
import { headAccuracy, trainLinearProbe } from './t1/linearProbe.js';
import { labelFlipRandomAttack, labelFlipWorstAttack } from './labelFlip.js';

let t: TinyT1;
beforeAll(async () => {
  await initBackend(process.env.HEMLOCK_TEST_BACKEND ?? 'wasm');
  t = await tinyT1({ classes: [0, 1, 7, 8], widths: [8, 16, 32] });
});
afterAll(() => t?.dispose());

describe('label flip', () => {
  it('random: εN copies with a different label; worst-class: the least likely wrong class; worst-class lowers the probe accuracy, more than random', async () => {
    const enc = t.model.body;
    const dim = enc.featureDim;
    const testF = featureSet(extractFeatures(enc, t.test), t.test.labels, dim);
    const acc = (pt: typeof t.train) => headAccuracy(trainLinearProbe(featureSet(extractFeatures(enc, pt), pt.labels, dim), 4, { l2: t.l2 }).head, testF);
    const eps = 0.3;
    const random = await labelFlipRandomAttack.craft({ train: t.train, model: t.model, rng: new Rng(0) }, labelFlipRandomAttack.configSchema.parse({ epsilon: eps }));
    const worst = await labelFlipWorstAttack.craft({ train: t.train, model: t.model, rng: new Rng(0) }, labelFlipWorstAttack.configSchema.parse({ epsilon: eps }));
    for (const r of [random, worst]) {
      expect(r.poisonIndices.length).toBe(60);
      const src = r.details.sourceIndices as Int32Array;
      for (let j = 0; j < 60; j++) {
        const i = r.poisonIndices[j]!;
        expect(r.poisonedTrain.labels[i]).not.toBe(t.train.labels[src[j]!]);
        expect(Array.from(r.poisonedTrain.image(i))).toEqual(Array.from(t.train.image(src[j]!)));
      }
    }
    // Worst-class picks the wrong label with the lowest clean-head logit.
    const z = extractFeatures(enc, t.train);
    const { w, b } = t.cleanHead;
    const i0 = (worst.details.sourceIndices as Int32Array)[0]!;
    const logits = [0, 1, 2, 3].map((c) => b[c]! + Array.from({ length: dim }, (_, q) => z[i0 * dim + q]! * w[q * 4 + c]!).reduce((a, v) => a + v, 0));
    const wrong = [0, 1, 2, 3].filter((c) => c !== t.train.labels[i0]);
    const expected = wrong.reduce((best, c) => (logits[c]! < logits[best]! ? c : best), wrong[0]!);
    expect(worst.poisonedTrain.labels[worst.poisonIndices[0]!]).toBe(expected);
    // wasm: clean 82.7%, random flips 83.0% (symmetric label noise barely moves a
    // logistic-regression probe), worst-class flips 73.3%.
    const clean = t.cleanAccuracy;
    const worstAcc = acc(worst.poisonedTrain);
    expect(worstAcc).toBeLessThan(clean - 0.05);
    expect(worstAcc).toBeLessThan(acc(random.poisonedTrain));
  });
});
