import { describe, expect, it } from 'vitest';
import {
  accuracy, accuracyDrop, attackSuccessRate, auroc, clusterConsistencyRate, confusionMatrix,
  detectionRates, meanCI, perClassAccuracy, targetSuccess, wilsonInterval,
} from './metrics.js';

describe('metrics (hand-computed cases)', () => {
  it('accuracy', () => {
    expect(accuracy([0, 1, 2, 2], [0, 1, 1, 2])).toBe(0.75);
    expect(accuracy([], [])).toBeNaN();
    expect(() => accuracy([1], [1, 2])).toThrow(/1 predictions for 2 labels/);
  });

  it('confusion matrix and per-class accuracy', () => {
    // truth 0,0,1,1,2 ; pred 0,1,1,1,0
    const m = confusionMatrix([0, 1, 1, 1, 0], [0, 0, 1, 1, 2], 3);
    expect(m).toEqual([[1, 1, 0], [0, 2, 0], [1, 0, 0]]);
    expect(perClassAccuracy([0, 1, 1, 1, 0], [0, 0, 1, 1, 2], 3)).toEqual([0.5, 1, 0]);
    const withEmpty = perClassAccuracy([0], [0], 2);
    expect(withEmpty[0]).toBe(1);
    expect(withEmpty[1]).toBeNaN();
  });

  it('accuracy drop is clean minus poisoned', () => {
    expect(accuracyDrop(0.9, 0.75)).toBeCloseTo(0.15, 12);
  });

  it('ASR excludes target-class samples from the denominator', () => {
    // target 2: samples with truth 2 are excluded; of the 4 others, 2 predicted 2.
    expect(attackSuccessRate([2, 2, 0, 1, 2, 2], [0, 1, 0, 1, 2, 2], 2)).toBe(0.5);
    expect(attackSuccessRate([2], [2], 2)).toBeNaN();
  });

  it('target success counts adversarial-class predictions', () => {
    expect(targetSuccess([3, 3, 1, 3], 3)).toEqual({ rate: 0.75, successes: 3, trials: 4 });
  });

  it('cluster consistency rate uses the majority label (ties: smallest label)', () => {
    expect(clusterConsistencyRate([4, 4, 1, 4, 2])).toEqual({ rate: 0.6, majorityLabel: 4 });
    expect(clusterConsistencyRate([1, 2]).majorityLabel).toBe(1);
  });

  it('Wilson interval matches published values', () => {
    // 8 of 10 at 95%: [0.4902, 0.9433] (Wilson 1927; e.g. Newcombe 1998 Table I method 3).
    const [lo, hi] = wilsonInterval(8, 10);
    expect(lo).toBeCloseTo(0.4902, 4);
    expect(hi).toBeCloseTo(0.9433, 4);
    // 0 of 10: [0, 0.2775]
    const [lo0, hi0] = wilsonInterval(0, 10);
    expect(lo0).toBe(0);
    expect(hi0).toBeCloseTo(0.2775, 4);
    expect(wilsonInterval(10, 10)[1]).toBe(1);
  });

  it('mean and 95% t-interval', () => {
    // values 1,2,3: mean 2, sd 1, t(2)=4.303, half = 4.303/sqrt(3) = 2.4843
    const r = meanCI([1, 2, 3]);
    expect(r.mean).toBe(2);
    expect(r.std).toBeCloseTo(1, 12);
    expect(r.halfWidth).toBeCloseTo(2.4843, 3);
    expect(meanCI([5]).halfWidth).toBeNaN();
  });

  it('detection rates at a threshold', () => {
    expect(detectionRates([0.9, 0.2, 0.8, 0.1], [1, 0, 0, 1], 0.5)).toEqual({ tpr: 0.5, fpr: 0.5 });
  });

  it('AUROC with ties', () => {
    expect(auroc([0.9, 0.8, 0.1, 0.2], [1, 1, 0, 0])).toBe(1);
    expect(auroc([0.1, 0.2, 0.9, 0.8], [1, 1, 0, 0])).toBe(0);
    // poison scores {0.5, 0.7}, clean {0.5, 0.1}: pairs (0.5 vs 0.5 → ½), (0.5 vs 0.1 → 1), (0.7 vs both → 2) = 3.5/4
    expect(auroc([0.5, 0.7, 0.5, 0.1], [1, 1, 0, 0])).toBeCloseTo(0.875, 12);
  });
});
