/** Learning-rate schedules as pure functions of the global step. */
export type Schedule =
  | { kind: 'constant' }
  | { kind: 'cosine'; warmupSteps?: number; minFactor?: number }
  | { kind: 'step'; milestones: number[]; gamma: number };

/**
 * The learning rate at `step` of `totalSteps`. Cosine decays from base to
 * base·minFactor after an optional linear warm-up; step multiplies by gamma at
 * each milestone, given as fractions of training (0.5, 0.75) or step numbers (≥ 1).
 */
export function learningRateAt(base: number, schedule: Schedule, step: number, totalSteps: number): number {
  switch (schedule.kind) {
    case 'constant':
      return base;
    case 'cosine': {
      const warm = schedule.warmupSteps ?? 0;
      if (step < warm) return (base * (step + 1)) / warm;
      const t = Math.min(1, (step - warm) / Math.max(1, totalSteps - warm));
      const min = schedule.minFactor ?? 0;
      return base * (min + (1 - min) * 0.5 * (1 + Math.cos(Math.PI * t)));
    }
    case 'step': {
      let lr = base;
      for (const m of schedule.milestones) {
        const at = m < 1 ? Math.round(m * totalSteps) : m;
        if (step >= at) lr *= schedule.gamma;
      }
      return lr;
    }
  }
}
