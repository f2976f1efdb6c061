import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { demoSpecs, runDemo } from './demo.js';
import { validateExperiment } from './spec.js';

const BACKEND = process.env.HEMLOCK_TEST_BACKEND ?? 'wasm';

describe('hemlock demo', () => {
  it('its specs are valid experiments (standard and tiny)', () => {
    for (const scale of ['standard', 'tiny'] as const) {
      const s = demoSpecs('auto', scale);
      expect(() => validateExperiment(s.t1, 't1')).not.toThrow();
      expect(() => validateExperiment(s.backdoor, 'backdoor')).not.toThrow();
    }
  });

  it('runs the whole study at tiny scale: every row, one report, and the encoder from the cache the second time', async () => {
    const out = mkdtempSync(join(tmpdir(), 'hemlock-demo-'));
    const cacheDir = join(out, 'cache');
    const r = await runDemo({ out, cacheDir, backend: BACKEND, scale: 'tiny' });
    const settings = r.rows.map((x) => `${x.study}|${x.setting}`);
    expect(settings).toEqual([
      'T1 frozen encoder|clean',
      'T1 frozen encoder|label-flip-worst',
      'T1 frozen encoder|gc-feature',
      'backdoor (from scratch)|clean',
      expect.stringMatching(/^backdoor \(from scratch\)\|badnets /),
      'backdoor (from scratch)|badnets + spectral-signatures',
    ]);
    for (const row of r.rows) {
      expect(row.accuracy).toBeGreaterThanOrEqual(0);
      expect(row.accuracy).toBeLessThanOrEqual(1);
    }
    expect(r.rows.find((x) => x.setting === 'badnets + spectral-signatures')!.auroc).toBeTypeOf('number');
    expect(r.encoderCacheHit).toBe(false);
    expect(existsSync(r.report)).toBe(true);
    const html = readFileSync(r.report, 'utf8');
    expect(html).toContain('Demo study');
    expect(html).toContain('spectral-signatures');
    expect(html).toContain('attack success rate by setting');
    expect(html).toContain('ROC');
    expect(html).not.toMatch(/<script[^>]+src=["']https?:/); // self-contained

    const again = await runDemo({ out, cacheDir, backend: BACKEND, scale: 'tiny' });
    expect(again.encoderCacheHit).toBe(true);
    expect(again.rows.map((x) => x.accuracy)).toEqual(r.rows.map((x) => x.accuracy));
  });
});
