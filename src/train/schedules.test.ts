import { describe, expect, it } from 'vitest';
import { learningRateAt } from './schedules.js';

describe('learning-rate schedules', () => {
  it('cosine goes from base to 0 through base/2 at the middle', () => {
    expect(learningRateAt(0.1, { kind: 'cosine' }, 0, 100)).toBeCloseTo(0.1, 12);
    expect(learningRateAt(0.1, { kind: 'cosine' }, 50, 100)).toBeCloseTo(0.05, 12);
    expect(learningRateAt(0.1, { kind: 'cosine' }, 100, 100)).toBeCloseTo(0, 12);
  });
  it('cosine warm-up is linear', () => {
    expect(learningRateAt(0.1, { kind: 'cosine', warmupSteps: 10 }, 4, 100)).toBeCloseTo(0.05, 12);
  });
  it('step decays at milestones given as fractions or steps', () => {
    const s = { kind: 'step' as const, milestones: [0.5, 75], gamma: 0.1 };
    expect(learningRateAt(1, s, 49, 100)).toBe(1);
    expect(learningRateAt(1, s, 50, 100)).toBeCloseTo(0.1, 12);
    expect(learningRateAt(1, s, 80, 100)).toBeCloseTo(0.01, 12);
  });
});
