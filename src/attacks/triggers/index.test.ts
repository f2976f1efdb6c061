import { describe, expect, it } from 'vitest';
import { HemlockInputError } from '../../engine/errors.js';
import { TriggerSchema, buildTrigger } from './index.js';

describe('buildTrigger', () => {
  it('builds each kind from its config with defaults, and names bad fields', () => {
    expect(TriggerSchema.parse({ kind: 'patch' })).toEqual({ kind: 'patch', size: 3, pattern: 'checkerboard', value: 1, position: 'bottom-right', margin: 1 });
    expect(buildTrigger({ kind: 'patch', size: 4 }).name).toBe('patch 4×4 checkerboard at bottom-right');
    expect(buildTrigger({ kind: 'blend' }).name).toMatch(/^blend α=0.2/);
    expect(buildTrigger({ kind: 'noise', epsilon: 0.05 }).name).toMatch(/^noise uniform ε=0.05/);
    expect(() => buildTrigger({ kind: 'patch', size: 0 } as never)).toThrow(HemlockInputError);
    expect(() => buildTrigger({ kind: 'patch', size: 0 } as never, 'backdoor.attack.trigger')).toThrow(/^backdoor\.attack\.trigger\.size: /);
    expect(() => buildTrigger({ kind: 'star' } as never)).toThrow(/trigger.*kind/);
    expect(() => buildTrigger({ kind: 'blend', colour: 1 } as never)).toThrow(HemlockInputError);
  });

  it('every kind keeps outputs in [0,1] on random inputs', () => {
    const x = Float32Array.from({ length: 4 * 6 * 6 * 3 }, (_, i) => ((i * 7919) % 101) / 100);
    for (const t of [buildTrigger({ kind: 'patch', size: 2 }), buildTrigger({ kind: 'blend', alpha: 0.7 }), buildTrigger({ kind: 'noise', epsilon: 0.5, distribution: 'gaussian' })]) {
      const y = t.apply(x, [4, 6, 6, 3]);
      expect(y.length).toBe(x.length);
      expect(y.every((v) => v >= 0 && v <= 1)).toBe(true);
    }
  });
});
