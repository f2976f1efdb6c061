import { beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tf } from '../engine/tf.js';
import { initBackend } from '../engine/backend.js';
import { loadCheckpoint, saveCheckpoint } from './checkpoint.js';
import { Optimizer } from './optimizers.js';

const BACKEND = process.env.HEMLOCK_TEST_BACKEND ?? 'wasm';
const adam = { kind: 'adam' as const, lr: 0.1, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 };

describe(`checkpoints (${BACKEND})`, () => {
  beforeAll(async () => {
    await initBackend(BACKEND);
  });

  it('restores tensors, optimizer state and meta; a kill between the weights and the meta keeps the previous checkpoint', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hemlock-ckpt-'));
    const v = tf.variable(tf.tensor1d([1, 2, 3]), true, 'ckpt-test-v');
    const opt = new Optimizer(adam);
    opt.apply({ [v.name]: tf.tensor1d([1, 1, 1]) }, [v]);
    await saveCheckpoint(dir, { v }, opt, { epoch: 1, history: [{ a: 1 }], steps: 4, extra: { ptr: 7 } });
    const saved = Array.from(v.dataSync());
    // Epoch 2 "crashes" after writing its weights file but before checkpoint.json.
    writeFileSync(join(dir, 'checkpoint-2.bin'), new Uint8Array(8));
    v.assign(tf.tensor1d([9, 9, 9]));
    const opt2 = new Optimizer(adam);
    const meta = await loadCheckpoint<{ a: number }, { ptr: number }>(dir, { v }, opt2);
    expect(meta?.epoch).toBe(1);
    expect(meta?.steps).toBe(4);
    expect(meta?.extra).toEqual({ ptr: 7 });
    expect(Array.from(v.dataSync())).toEqual(saved);
    // The optimizer state came back: one more identical update gives identical results.
    const w = await opt.getWeights();
    const w2 = await opt2.getWeights();
    expect(w2.map((x) => x.name)).toEqual(w.map((x) => x.name));
    for (let i = 0; i < w.length; i++) expect(Array.from(w2[i]!.tensor.dataSync())).toEqual(Array.from(w[i]!.tensor.dataSync()));
    // The next save replaces the old weights file (and the orphan).
    await saveCheckpoint(dir, { v }, opt2, { epoch: 3, history: [], steps: 12 });
    expect(readdirSync(dir).filter((f) => !f.startsWith('.')).sort()).toEqual(['checkpoint-3.bin', 'checkpoint.json']);
    opt.dispose();
    opt2.dispose();
    v.dispose();
  });

  it('rejects weights that do not match the recorded sha256', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hemlock-ckpt-'));
    const v = tf.variable(tf.tensor1d([1, 2]), true, 'ckpt-test-v2');
    const opt = new Optimizer(adam);
    await saveCheckpoint(dir, { v }, opt, { epoch: 1, history: [], steps: 1 });
    writeFileSync(join(dir, 'checkpoint-1.bin'), new Uint8Array(8).fill(1));
    await expect(loadCheckpoint(dir, { v }, opt)).rejects.toThrow(/sha256/);
    expect(await loadCheckpoint(mkdtempSync(join(tmpdir(), 'hemlock-ckpt-')), { v }, opt)).toBeNull();
    opt.dispose();
    v.dispose();
  });

  for (const kind of ['adam', 'sgd'] as const) {
    it(`saving checkpoints leaks no tensors (${kind})`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'hemlock-ckpt-'));
      const v = tf.variable(tf.tensor1d([1, 2]), true, `ckpt-leak-${kind}`);
      const opt = new Optimizer(kind === 'adam' ? adam : { kind: 'sgd', lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0 });
      opt.apply({ [v.name]: tf.tensor1d([1, 1]) }, [v]);
      await saveCheckpoint(dir, { v }, opt, { epoch: 1, history: [], steps: 1 });
      const before = tf.memory().numTensors;
      for (let e = 2; e <= 5; e++) await saveCheckpoint(dir, { v }, opt, { epoch: e, history: [], steps: e });
      expect(tf.memory().numTensors).toBe(before);
      opt.dispose();
      v.dispose();
    });
  }
});
