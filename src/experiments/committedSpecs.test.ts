import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadExperiment, validateExperiment } from './spec.js';
import { loadSweep } from './sweep.js';

// The specs under experiments/ are what the README's tables were measured
// with; a schema change that silently breaks one of them would leave the
// README pointing at a command that exits 2. Every one must still load.
const root = join(import.meta.dirname, '..', '..', 'experiments');

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'results' ? [] : yamlFiles(path);
    return e.name.endsWith('.yaml') ? [path] : [];
  });
}

describe('committed experiment specs', () => {
  const files = yamlFiles(root);

  it('finds the specs', () => {
    expect(files.length).toBeGreaterThan(20);
  });

  it.each(files.map((f) => [relative(root, f), f]))('%s validates', (_name, path) => {
    if (path.includes(`${join('experiments', 'sweeps')}`)) expect(() => loadSweep(path)).not.toThrow();
    else expect(() => loadExperiment(path)).not.toThrow();
  });

  it('every variant of experiments/ssl/sweep-mini.mjs is a valid spec', async () => {
    const sweep = (await import(join(root, 'ssl', 'sweep-mini.mjs'))) as {
      VARIANTS: Record<string, Record<string, unknown>>;
      variantSpec: (name: string, overrides: Record<string, unknown>, epochs: number) => unknown;
    };
    const names = Object.keys(sweep.VARIANTS);
    expect(names.length).toBeGreaterThan(10);
    for (const name of names) {
      const spec = sweep.variantSpec(name, sweep.VARIANTS[name]!, 10);
      expect(() => validateExperiment(spec, `sweep-mini variant ${name}`)).not.toThrow();
    }
  });
});
