import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadExperiment } from './spec.js';
import { expandSweep, loadSweep } from './sweep.js';

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

  // A sweep is checked the way `hemlock sweep` checks it: every expanded run must be a valid experiment.
  it.each(files.map((f) => [relative(root, f), f]))('%s validates', (_name, path) => {
    if (path.includes(join('experiments', 'sweeps'))) expect(() => expandSweep(loadSweep(path), path)).not.toThrow();
    else expect(() => loadExperiment(path)).not.toThrow();
  });
});
