import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '../engine/rng.js';
import { ImageDataset } from '../data/dataset.js';
import { parseNpy } from '../data/npy.js';
import { loadDatasetFromPath } from '../data/builtin.js';
import { applyPoisons, craftRandomNoise, chooseSetup } from './witchesBrew.js';
import { exportPoisonedSet, readPoisonedSet, LINF_TOLERANCE } from './export.js';
import type { AttackResult } from './types.js';

/** A small dataset with pixels at the box edges (0 and 1), where clipping matters. */
function dataset(n: number, seed: string, name: string): ImageDataset {
  const rng = new Rng(seed);
  const per = 6 * 6;
  const images = Float32Array.from({ length: n * per }, () => {
    const u = rng.next();
    return u < 0.2 ? 0 : u > 0.8 ? 1 : rng.next();
  });
  const labels = Int32Array.from({ length: n }, (_, i) => i % 3);
  return new ImageDataset({ images, labels, height: 6, width: 6, channels: 1, classNames: ['a', 'b', 'c'], name });
}

const EPS = 16 / 255;

/** An attack result whose Δ is random in [−2ε, 2ε] and then projected, like brewPoisons' output after the box. */
function fakeBrew(train: ImageDataset, test: ImageDataset, seed: number): AttackResult {
  const setup = chooseSetup(train, test, { threatModel: 'single-class', budget: 0.1 }, new Rng(seed));
  const rng = new Rng(`delta/${seed}`);
  const per = train.imageSize;
  const delta = new Float32Array(setup.poisonIndices.length * per);
  for (let k = 0; k < setup.poisonIndices.length; k++) {
    for (let j = 0; j < per; j++) {
      const x = train.images[setup.poisonIndices[k]! * per + j]!;
      const d = Math.max(-EPS, Math.min(EPS, rng.uniform(-2 * EPS, 2 * EPS)));
      delta[k * per + j] = Math.max(-x, Math.min(1 - x, d));
    }
  }
  const { poisoned, linfNorms } = applyPoisons(train, setup.poisonIndices, delta);
  return {
    attack: 'witches-brew',
    config: { epsilon: EPS },
    seed,
    poisonedTrain: poisoned,
    poisonIndices: setup.poisonIndices,
    added: false,
    linfNorms,
    details: { targetIndex: setup.targetIndex, targetTrueClass: setup.targetTrueClass, adversarialClass: setup.adversarialClass, threatModel: 'single-class', poisonClass: setup.poisonClass },
  };
}

describe('poisoned-set export (the issue-6 contract)', () => {
  const train = dataset(90, 'train', 'toy/train');
  const test = dataset(30, 'test', 'toy/test');

  it('every poison satisfies ‖δ‖∞ ≤ ε + 1e-6 and stays in [0,1] (brewed-like Δ and random noise)', async () => {
    for (const result of [fakeBrew(train, test, 1), await craftRandomNoise({ train, test, rng: new Rng(2) }, { epsilon: EPS, budget: 0.1, threatModel: 'random-subset' })]) {
      const per = train.imageSize;
      const x = result.poisonedTrain.images;
      for (let k = 0; k < result.poisonIndices.length; k++) {
        const i = result.poisonIndices[k]!;
        let m = 0;
        for (let j = 0; j < per; j++) {
          const v = x[i * per + j]!;
          expect(v >= 0 && v <= 1).toBe(true);
          m = Math.max(m, Math.abs(v - train.images[i * per + j]!));
        }
        expect(m).toBeLessThanOrEqual(EPS + LINF_TOLERANCE);
        expect(result.linfNorms![k]).toBeCloseTo(m, 7);
      }
      // Everything that is not a poison is untouched, labels included.
      const isPoison = new Set(result.poisonIndices);
      for (let i = 0; i < train.count; i++) {
        expect(result.poisonedTrain.labels[i]).toBe(train.labels[i]);
        if (!isPoison.has(i)) for (let j = 0; j < per; j++) expect(x[i * per + j]).toBe(train.images[i * per + j]);
      }
    }
  });

  it('export → read back round trip: exact files, dtypes, shapes, manifest fields', async () => {
    const result = fakeBrew(train, test, 3);
    const dir = join(mkdtempSync(join(tmpdir(), 'hemlock-t4-export-')), 'set');
    const m = await exportPoisonedSet(dir, result, { seed: 3, epsilon: EPS, budget: 0.1, cleanTrain: train, test, png: true });
    expect(m).toMatchObject({ attack: 'witches-brew', epsilon: EPS, budget: 0.1, seed: 3, targetIndex: result.details.targetIndex, adversarialClass: result.details.adversarialClass });
    expect(m.poisonIndices).toEqual(Array.from(result.poisonIndices));
    // The files as another framework sees them.
    const x = parseNpy(new Uint8Array(readFileSync(join(dir, 'x_train.npy'))), 'x');
    const y = parseNpy(new Uint8Array(readFileSync(join(dir, 'y_train.npy'))), 'y');
    const t = parseNpy(new Uint8Array(readFileSync(join(dir, 'target.npy'))), 't');
    expect([x.dtype, x.shape]).toEqual(['f4', [90, 6, 6, 1]]);
    expect([y.dtype, y.shape]).toEqual(['i8', [90]]);
    expect([t.dtype, t.shape]).toEqual(['f4', [1, 6, 6, 1]]);
    expect(Array.from(x.data)).toEqual(Array.from(result.poisonedTrain.images));
    expect(Array.from(t.data)).toEqual(Array.from(test.image(m.targetIndex)));
    const back = await readPoisonedSet(dir);
    expect(Array.from(back.train.images)).toEqual(Array.from(result.poisonedTrain.images));
    expect(Array.from(back.train.labels)).toEqual(Array.from(train.labels));
    expect(Array.from(back.test.images)).toEqual(Array.from(test.images));
    expect(back.manifest.targetTrueClass).toBe(test.labels[m.targetIndex]);
    for (let k = 0; k < m.poisonIndices.length; k++) expect(back.measuredLinf[k]).toBeCloseTo(m.linfNorms[k]!, 7);
    // The folder is also a plain hemlock NPY dataset directory.
    const asDataset = await loadDatasetFromPath(dir);
    expect(asDataset.layout).toBe('npy');
    expect(asDataset.train.count).toBe(90);
    // PNG folders were written too (8-bit copies).
    expect(readFileSync(join(dir, 'png', 'target.png')).subarray(1, 4).toString()).toBe('PNG');
  });

  it('reading back refuses a tampered file, a poison beyond ε, and a non-empty output directory', async () => {
    const result = fakeBrew(train, test, 4);
    const root = mkdtempSync(join(tmpdir(), 'hemlock-t4-bad-'));
    const dir = join(root, 'set');
    await exportPoisonedSet(dir, result, { seed: 4, epsilon: EPS, budget: 0.1, cleanTrain: train, test });
    await expect(exportPoisonedSet(dir, result, { seed: 4, epsilon: EPS, budget: 0.1, cleanTrain: train, test })).rejects.toThrow(/not empty/);
    const bytes = readFileSync(join(dir, 'y_train.npy'));
    bytes[bytes.length - 1] ^= 1;
    writeFileSync(join(dir, 'y_train.npy'), bytes);
    await expect(readPoisonedSet(dir)).rejects.toThrow(/y_train\.npy: sha256 does not match/);

    // A poison pushed 2/255 beyond ε (sha256s consistent: the exporter does not judge).
    const bad = fakeBrew(train, test, 5);
    const per = train.imageSize;
    const i = bad.poisonIndices[0]!;
    const images = bad.poisonedTrain.images;
    const clean = train.images[i * per]!;
    images[i * per] = clean > 0.5 ? clean - EPS - 2 / 255 : clean + EPS + 2 / 255;
    const dir2 = join(root, 'beyond');
    await exportPoisonedSet(dir2, bad, { seed: 5, epsilon: EPS, budget: 0.1, cleanTrain: train, test });
    await expect(readPoisonedSet(dir2)).rejects.toThrow(/poison 0 .* > ε/);
  });
});
