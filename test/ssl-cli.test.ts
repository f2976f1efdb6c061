import { beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256File } from '../src/engine/files.js';
import { writeIdx } from '../src/data/idx.js';
import { syntheticShapes } from '../src/testing/sslFixtures.js';
import { BIN, hemlock } from './cli.js';

/**
 * The issue-4 contract through the real CLI: pretrain → JSON with encoder,
 * encoderHash, cacheHit, knnAccuracy; a second identical pretrain is a cache
 * hit; probe → testAccuracy (also of random:convnet-s); SIGKILL mid-run and
 * resume to the same weights; transfer 0-4 → 5-9 on fashion-mnist-mini.
 */

const TINY_MODEL = ['--model', 'convnet-s', '--model-options', '{"widths":[4,8,8]}'];

/** A tiny IDX dataset of 16×16 shapes (64 train, 30 test, 3 classes). */
async function writeTinyDataset(dir: string): Promise<void> {
  for (const [split, n, seed] of [['train', 64, 1], ['t10k', 30, 2]] as const) {
    const d = syntheticShapes(n, { seed });
    await writeIdx(join(dir, `${split}-images-idx3-ubyte`), { dtype: 'ubyte', dims: [n, 16, 16], data: Array.from(d.images, (v) => Math.round(v * 255)) });
    await writeIdx(join(dir, `${split}-labels-idx1-ubyte`), { dtype: 'ubyte', dims: [n], data: Array.from(d.labels) });
  }
}

function expectBadInput(r: ReturnType<typeof hemlock>, ...mustMention: (string | RegExp)[]): void {
  expect(r.code, r.stderr).toBe(2);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  for (const m of mustMention) expect(r.stderr).toMatch(m);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('CLI: hemlock pretrain / probe (issue 4 contract)', () => {
  let dataDir: string;
  let work: string;
  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'hemlock-ssl-cli-'));
    dataDir = join(work, 'shapes');
    await writeTinyDataset(dataDir);
  });

  it('pretrain prints the contract JSON; the same spec again is a cache hit (no training, same hash); probe reports testAccuracy', () => {
    const cache = join(work, 'cache-contract');
    const args = ['pretrain', '--method', 'simclr', '--dataset', dataDir, ...TINY_MODEL, '--epochs', '2', '--batch-size', '16', '--seed', '3', '--cache-dir', cache, '--json'];
    const first = hemlock(args);
    expect(first.code, first.stderr).toBe(0);
    expect(first.json).toMatchObject({ cacheHit: false, method: 'simclr', epochs: 2, seed: 3 });
    expect(first.json.encoderHash).toMatch(/^[0-9a-f]{64}$/);
    expect(first.json.knnAccuracy).toBeGreaterThanOrEqual(0);
    expect(first.json.knnAccuracy).toBeLessThanOrEqual(1);
    expect(existsSync(join(first.json.encoder, 'manifest.json'))).toBe(true);
    expect(first.stderr).toMatch(/epoch 2\/2/);

    const second = hemlock(args);
    expect(second.code, second.stderr).toBe(0);
    expect(second.json).toMatchObject({ cacheHit: true, encoderHash: first.json.encoderHash, encoder: first.json.encoder, knnAccuracy: first.json.knnAccuracy });
    expect(second.stderr).toMatch(/cache hit/);
    expect(second.stderr).not.toMatch(/epoch \d+\/2/); // no training

    const probe = hemlock(['probe', '--encoder', first.json.encoder, '--dataset', dataDir, '--seed', '0', '--cache-dir', cache, '--json']);
    expect(probe.code, probe.stderr).toBe(0);
    expect(probe.json.testAccuracy).toBeGreaterThanOrEqual(0);
    expect(probe.json.testAccuracy).toBeLessThanOrEqual(1);
    expect(probe.json).toMatchObject({ mode: 'linear', train: 64, test: 30, featureCacheHit: false });
    const again = hemlock(['probe', first.json.encoder, '--dataset', dataDir, '--seed', '0', '--cache-dir', cache, '--json']);
    expect(again.json).toMatchObject({ featureCacheHit: true, testAccuracy: probe.json.testAccuracy });

    const random = hemlock(['probe', '--encoder', 'random:convnet-s', '--model-options', '{"widths":[4,8,8]}', '--dataset', dataDir, '--seed', '0', '--no-feature-cache', '--json']);
    expect(random.code, random.stderr).toBe(0);
    expect(random.json.testAccuracy).toBeGreaterThanOrEqual(0);
    expect(random.json.encoder).toBe('random:convnet-s');
  });

  it('SIGKILL mid-run, then the same command resumes from the last checkpoint and ends with the weights of an uninterrupted run', async () => {
    const cacheKilled = join(work, 'cache-killed');
    const cacheClean = join(work, 'cache-clean');
    // 64 images / batch 8 = 8 steps per epoch; MoCo has the most state (momentum encoder, queue, pointer).
    // Eight epochs, so that the kill (half an epoch after the first checkpoint is
    // seen, polled every 100 ms) lands well before the end even when later epochs
    // run much faster than the first (warm-up) one, as they do on a quiet machine.
    const EPOCHS = 8;
    const common = ['pretrain', '--method', 'moco', '--queue-size', '24', '--dataset', dataDir, ...TINY_MODEL, '--epochs', String(EPOCHS), '--batch-size', '8', '--seed', '7', '--knn-every', '0', '--json'];
    const child = spawn(process.execPath, [BIN, ...common, '--cache-dir', cacheKilled], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += String(d)));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    const encoders = join(cacheKilled, 'encoders');
    const checkpointJson = () => {
      if (!existsSync(encoders)) return null;
      const work = readdirSync(encoders).find((f) => f.endsWith('.work'));
      const p = work ? join(encoders, work, 'checkpoint', 'checkpoint.json') : null;
      return p && existsSync(p) ? p : null;
    };
    let ckpt: string | null = null;
    for (let i = 0; i < 1200 && !ckpt; i++) {
      await sleep(100);
      ckpt = checkpointJson();
    }
    expect(ckpt, stderr).not.toBeNull();
    // The first checkpoint exists: kill about half an epoch later (epoch 1 took history[0].seconds).
    const meta = JSON.parse(readFileSync(ckpt!, 'utf8')) as { epoch: number; history: { seconds: number }[] };
    await sleep(Math.max(50, (meta.history[0]!.seconds * 1000) / 2));
    child.kill('SIGKILL');
    expect(await exited).toBeNull(); // killed, not finished
    const at = (JSON.parse(readFileSync(ckpt!, 'utf8')) as { epoch: number }).epoch;
    expect(at).toBeGreaterThanOrEqual(1);
    expect(at).toBeLessThan(EPOCHS);
    // No complete entry: only the work folder exists.
    expect(readdirSync(encoders).every((f) => f.endsWith('.work'))).toBe(true);

    const resumed = hemlock([...common, '--cache-dir', cacheKilled]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(new RegExp(`resumed from the checkpoint after epoch ${at}`));
    expect(resumed.json).toMatchObject({ cacheHit: false, resumedFromEpoch: at });

    const clean = hemlock([...common, '--cache-dir', cacheClean]);
    expect(clean.code, clean.stderr).toBe(0);
    expect(clean.json.resumedFromEpoch).toBe(0);
    expect(clean.json.encoderHash).toBe(resumed.json.encoderHash);
    expect(sha256File(join(resumed.json.encoder, 'weights.bin'))).toBe(sha256File(join(clean.json.encoder, 'weights.bin')));
    expect(resumed.json.finalLoss).toBe(clean.json.finalLoss);
    // The finished run cleaned up its checkpoints.
    expect(readdirSync(join(cacheKilled, 'encoders'))).toEqual([resumed.json.encoderHash]);
  });

  it('hemlock run with a pretrain section: pretrain → probe (+ random-init baseline), one run record', () => {
    const spec = join(work, 'ssl.json');
    writeFileSync(
      spec,
      JSON.stringify({
        name: 'tiny-barlow',
        seed: 1,
        data: { dataset: dataDir },
        model: { architecture: 'convnet-s', options: { widths: [4, 8, 8] } },
        pretrain: { method: 'barlow', epochs: 2, batchSize: 16, projector: { hidden: 16, out: 16 } },
        probe: { mode: 'linear', epochs: 50 },
      }),
    );
    const env = { HEMLOCK_CACHE_DIR: join(work, 'cache-run') };
    const r = hemlock(['run', spec, '--out', join(work, 'runs'), '--json'], { env });
    expect(r.code, r.stderr).toBe(0);
    const metrics = JSON.parse(readFileSync(join(r.json.runDir, 'metrics.json'), 'utf8'));
    expect(metrics).toMatchObject({ kind: 'ssl', method: 'barlow', cacheHit: false, probeMode: 'linear', epochs: 2 });
    expect(metrics.testAccuracy).toBe(r.json.testAccuracy);
    expect(typeof metrics.baselineTestAccuracy).toBe('number');
    expect(metrics.gainOverRandom).toBeCloseTo(metrics.testAccuracy - metrics.baselineTestAccuracy, 10);
    expect(metrics.history).toHaveLength(2);
    const again = hemlock(['run', spec, '--out', join(work, 'runs'), '--json'], { env });
    expect(JSON.parse(readFileSync(join(again.json.runDir, 'metrics.json'), 'utf8'))).toMatchObject({ cacheHit: true, encoderHash: metrics.encoderHash });
  });

  it('transfer: pre-train on fashion-mnist-mini classes 0-4, probe on classes 5-9', () => {
    const cache = join(work, 'cache-transfer');
    const pre = hemlock(['pretrain', '--method', 'simclr', '--dataset', 'fashion-mnist-mini', '--classes', '0-4', '--train-limit', '200', '--test-limit', '100', ...TINY_MODEL, '--epochs', '1', '--batch-size', '50', '--seed', '0', '--cache-dir', cache, '--json']);
    expect(pre.code, pre.stderr).toBe(0);
    expect(pre.json).toMatchObject({ classes: [0, 1, 2, 3, 4], cacheHit: false });
    expect(pre.stderr).toMatch(/on 200 images/);
    const probe = hemlock(['probe', '--encoder', pre.json.encoder, '--dataset', 'fashion-mnist-mini', '--classes', '5-9', '--train-limit', '200', '--test-limit', '100', '--seed', '0', '--cache-dir', cache, '--json']);
    expect(probe.code, probe.stderr).toBe(0);
    expect(probe.json).toMatchObject({ classes: [5, 6, 7, 8, 9], train: 200, test: 100 });
    // Five classes: chance is 20%; the transferred features separate them far better.
    expect(probe.json.testAccuracy).toBeGreaterThan(0.5);
    // Another dataset given by path (IDX files, 16×16 instead of 28×28): ConvNet-S ends in global pooling.
    const other = hemlock(['probe', '--encoder', pre.json.encoder, '--dataset', dataDir, '--seed', '0', '--no-feature-cache', '--json']);
    expect(other.code, other.stderr).toBe(0);
    expect(other.json).toMatchObject({ dataset: dataDir, train: 64, test: 30 });
  });

  it('bad input: exit 2 with one line naming the flag', () => {
    expectBadInput(hemlock(['pretrain', '--method', 'nope', '--dataset', dataDir]), /pretrain\.method/, /simclr/);
    expectBadInput(hemlock(['pretrain', '--dataset', dataDir]), /--method/);
    expectBadInput(hemlock(['pretrain', '--method', 'simclr', '--dataset', dataDir, '--classes', '4-0']), /--classes/);
    expectBadInput(hemlock(['pretrain', '--method', 'byol', '--dataset', dataDir, '--temperature', '0.5']), /temperature/);
    expectBadInput(hemlock(['probe', '--dataset', dataDir]), /--encoder/);
    expectBadInput(hemlock(['probe', '--encoder', join(work, 'nowhere'), '--dataset', dataDir]), /--encoder/, /nowhere/);
  });
});
