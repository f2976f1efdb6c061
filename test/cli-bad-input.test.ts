import { describe, expect, it, beforeAll } from 'vitest';
import { mkdtempSync, writeFileSync, mkdirSync, readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { hemlock } from './cli.js';

/** IDX header: 0 0 dtype ndims, then big-endian dims. */
function idxHeader(dtype: number, dims: number[]): Buffer {
  const b = Buffer.alloc(4 + 4 * dims.length);
  b[2] = dtype;
  b[3] = dims.length;
  dims.forEach((d, i) => b.writeUInt32BE(d, 4 + 4 * i));
  return b;
}

function expectBadInput(r: ReturnType<typeof hemlock>, ...mustMention: (string | RegExp)[]): void {
  expect(r.code, r.stderr).toBe(2);
  const lines = r.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  for (const m of mustMention) expect(r.stderr).toMatch(m);
}

describe('CLI: bad input gives exit 2 and one line naming the file and the problem', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'hemlock-bad-'));
  });

  it('truncated IDX', () => {
    const p = join(dir, 'truncated-idx3-ubyte');
    writeFileSync(p, Buffer.concat([idxHeader(0x08, [10, 28, 28]), Buffer.alloc(100)]));
    expectBadInput(hemlock(['data', 'inspect', p, '--json']), p, /truncated/i);
  });

  it('IDX with a wrong magic number', () => {
    const p = join(dir, 'badmagic-idx1-ubyte');
    const b = Buffer.concat([idxHeader(0x08, [3]), Buffer.from([1, 2, 3])]);
    b[0] = 0x13;
    writeFileSync(p, b);
    expectBadInput(hemlock(['data', 'inspect', p]), p, /magic/i);
  });

  it('gzipped IDX whose header claims more images than the file holds', () => {
    const p = join(dir, 'short-images-idx3-ubyte.gz');
    writeFileSync(p, gzipSync(Buffer.concat([idxHeader(0x08, [60000, 28, 28]), Buffer.alloc(28 * 28 * 5)])));
    expectBadInput(hemlock(['data', 'inspect', p]), p, /60000/);
  });

  it('NPY with an unsupported dtype', () => {
    const p = join(dir, 'complex.npy');
    const header = "{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }";
    const padded = header + ' '.repeat(64 - ((10 + header.length + 1) % 64)) + '\n';
    const h = Buffer.alloc(10);
    Buffer.from([0x93]).copy(h, 0);
    h.write('NUMPY', 1, 'latin1');
    h[6] = 1;
    h.writeUInt16LE(padded.length, 8);
    writeFileSync(p, Buffer.concat([h, Buffer.from(padded, 'latin1'), Buffer.alloc(16)]));
    expectBadInput(hemlock(['data', 'inspect', p]), p, /<c8/);
  });

  it('an image folder with a non-image file', async () => {
    const root = join(dir, 'folder');
    mkdirSync(join(root, 'cat'), { recursive: true });
    mkdirSync(join(root, 'dog'), { recursive: true });
    const png = await sharp({ create: { width: 4, height: 4, channels: 3, background: { r: 10, g: 20, b: 30 } } }).png().toBuffer();
    writeFileSync(join(root, 'cat', 'a.png'), png);
    writeFileSync(join(root, 'dog', 'b.png'), png);
    writeFileSync(join(root, 'dog', 'notes.png'), 'this is not an image');
    expectBadInput(hemlock(['data', 'inspect', root]), join(root, 'dog', 'notes.png'));
  });

  it('a spec with an unknown key', () => {
    const p = join(dir, 'spec.yaml');
    writeFileSync(p, 'name: x\ndata:\n  dataset: fashion-mnist-mini\ntrain:\n  epochs: 1\n  epochz: 3\n');
    expectBadInput(hemlock(['run', p]), p, /train/, /unknown key 'epochz'/);
  });

  it('a spec with a bad value names the path and the value', () => {
    const p = join(dir, 'spec-bad.json');
    writeFileSync(p, JSON.stringify({ data: { dataset: 'fashion-mnist-mini' }, train: { epochs: -3 } }));
    expectBadInput(hemlock(['run', p]), p, 'train.epochs: expected positive integer, got -3');
  });

  it('an unknown dataset, model, backend or flag', () => {
    expectBadInput(hemlock(['train', '--dataset', 'nope', '--model', 'convnet-s', '--epochs', '1']), /nope/);
    expectBadInput(hemlock(['train', '--dataset', 'fashion-mnist-mini', '--model', 'vgg99', '--epochs', '1']), /model.architecture/, /vgg99/);
    expectBadInput(hemlock(['train', '--dataset', 'fashion-mnist-mini', '--epochs', 'ten']), /--epochs/, /ten/);
    expectBadInput(hemlock(['bench', '--backend', 'gpu', '--no-torch']), /gpu/);
    expectBadInput(hemlock(['list', '--frobnicate']), /frobnicate/);
  });

  it('fashion-mnist pointed at a directory without it names the Debian package', () => {
    const empty = join(dir, 'empty');
    mkdirSync(empty, { recursive: true });
    expectBadInput(hemlock(['train', '--dataset', 'fashion-mnist', '--data-dir', empty, '--epochs', '1']), empty, /dataset-fashion-mnist/);
  });

  it('a model whose weights were changed after saving is refused', async () => {
    const { tf } = await import('../src/engine/tf.js');
    const { initBackend } = await import('../src/engine/backend.js');
    const { buildModel } = await import('../src/models/registry.js');
    const { saveModel, loadModel } = await import('../src/models/io.js');
    await initBackend('cpu');
    const spec = { architecture: 'mlp' as const, inputShape: [4, 4, 1] as [number, number, number], numClasses: 2, head: 'linear' as const, options: { hidden: [3] } };
    const m = buildModel(spec, 1);
    const mdir = join(dir, 'model');
    await saveModel(m, spec, mdir);
    const loaded = await loadModel(mdir);
    for (const [k, v] of Object.entries(m.params)) expect(Array.from(loaded.model.params[k]!.dataSync())).toEqual(Array.from(v.dataSync()));
    const w = readFileSync(join(mdir, 'weights.bin'));
    w[0] = w[0]! ^ 0xff;
    writeFileSync(join(mdir, 'weights.bin'), w);
    await expect(loadModel(mdir)).rejects.toThrow(/weights\.bin: sha256 does not match/);
    expect(tf.getBackend()).toBe('cpu');
  });
});
