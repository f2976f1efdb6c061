import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { HemlockInputError } from '../engine/errors.js';
import { gunzipHeadAndSize, isGzip, listDir, mapLimit, readFileBytes, readHead, statPath } from './io.js';

const root = mkdtempSync(join(tmpdir(), 'hemlock-io-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function rejects(p: Promise<unknown>, ...parts: string[]): Promise<void> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(HemlockInputError);
    for (const s of parts) expect((e as Error).message).toContain(s);
    return;
  }
  throw new Error('expected a HemlockInputError');
}

describe('io helpers', () => {
  it('isGzip checks the magic bytes', () => {
    expect(isGzip(new Uint8Array([0x1f, 0x8b, 8]))).toBe(true);
    expect(isGzip(new Uint8Array([0x1f]))).toBe(false);
    expect(isGzip(new Uint8Array([0, 0, 8, 1]))).toBe(false);
  });

  it('readHead reads a prefix; readFileBytes the whole file', async () => {
    const p = join(root, 'f.bin');
    writeFileSync(p, Buffer.from([1, 2, 3, 4, 5]));
    expect(Array.from(await readHead(p, 3))).toEqual([1, 2, 3]);
    expect(Array.from(await readHead(p, 10))).toEqual([1, 2, 3, 4, 5]);
    expect(Array.from(await readFileBytes(p))).toEqual([1, 2, 3, 4, 5]);
  });

  it('gunzipHeadAndSize streams and counts', async () => {
    const p = join(root, 'g.gz');
    const payload = Buffer.alloc(300000, 7);
    payload[0] = 42;
    writeFileSync(p, gzipSync(payload));
    const { head, size } = await gunzipHeadAndSize(p, 4);
    expect(size).toBe(300000);
    expect(Array.from(head)).toEqual([42, 7, 7, 7]);
    const bad = join(root, 'bad.gz');
    writeFileSync(bad, gzipSync(payload).subarray(0, 50));
    await rejects(gunzipHeadAndSize(bad, 4), bad, 'corrupt gzip data');
    await rejects(gunzipHeadAndSize(join(root, 'missing.gz'), 4), join(root, 'missing.gz'), 'no such file or directory');
  });

  it('filesystem errors are input errors naming the path', async () => {
    await rejects(readFileBytes(join(root, 'missing')), join(root, 'missing'), 'no such file or directory');
    await rejects(readFileBytes(root), root, 'is a directory');
    await rejects(readHead(join(root, 'missing'), 1), join(root, 'missing'));
    await rejects(statPath(join(root, 'missing')), join(root, 'missing'));
    await rejects(listDir(join(root, 'f.bin')), join(root, 'f.bin'), 'not a directory');
  });

  it('mapLimit keeps order and bounds concurrency', async () => {
    let active = 0;
    let peak = 0;
    const out = await mapLimit([5, 1, 4, 2, 3], 2, async (x) => {
      active++;
      peak = Math.max(peak, active);
      await new Promise((r) => setTimeout(r, x));
      active--;
      return x * 10;
    });
    expect(out).toEqual([50, 10, 40, 20, 30]);
    expect(peak).toBe(2);
  });
});
