import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { HemlockInputError } from '../engine/errors.js';
import { encodeIdx, loadIdxImages, parseIdx, readIdx, writeIdx, type IdxDtype } from './idx.js';

const dir = mkdtempSync(join(tmpdir(), 'hemlock-idx-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function rejects(p: Promise<unknown>, ...parts: string[]): Promise<HemlockInputError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(HemlockInputError);
    for (const s of parts) expect((e as Error).message).toContain(s);
    return e as HemlockInputError;
  }
  throw new Error('expected a HemlockInputError');
}

/** Raw IDX header bytes. */
function header(code: number, dims: number[]): Buffer {
  const b = Buffer.alloc(4 + 4 * dims.length);
  b[2] = code;
  b[3] = dims.length;
  dims.forEach((d, i) => b.writeUInt32BE(d, 4 + 4 * i));
  return b;
}

const samples: Record<IdxDtype, number[]> = {
  ubyte: [0, 1, 127, 128, 255, 42],
  byte: [-128, -1, 0, 1, 127, 5],
  short: [-32768, -2, 0, 300, 32767, 7],
  int: [-2147483648, -5, 0, 70000, 2147483647, 9],
  float: [0, 0.5, -1.25, 3.5e10, 1e-3, 0.1].map(Math.fround),
  double: [0, 0.1, -1e300, Math.PI, 2 ** -1074, 12345.678],
};

describe('IDX round trip', () => {
  for (const dtype of Object.keys(samples) as IdxDtype[]) {
    for (const gzip of [false, true]) {
      it(`${dtype} ${gzip ? 'gzip' : 'raw'}`, async () => {
        const path = join(dir, `rt-${dtype}-${gzip}.idx${gzip ? '.gz' : ''}`);
        await writeIdx(path, { dtype, dims: [2, 3], data: samples[dtype] }, { gzip });
        const bytes = readFileSync(path);
        expect(bytes[0] === 0x1f && bytes[1] === 0x8b).toBe(gzip);
        const back = await readIdx(path);
        expect(back.dtype).toBe(dtype);
        expect(back.dims).toEqual([2, 3]);
        expect(Array.from(back.data)).toEqual(samples[dtype]);
      });
    }
  }

  it('writes big-endian headers and data', () => {
    const b = encodeIdx({ dtype: 'short', dims: [2], data: [1, 258] }, 'x');
    expect(Array.from(b)).toEqual([0, 0, 0x0b, 1, 0, 0, 0, 2, 0, 1, 1, 2]);
  });

  it('detects gzip by magic bytes, not by the file name', async () => {
    const gzNamedRaw = join(dir, 'looks-raw.idx');
    writeFileSync(gzNamedRaw, gzipSync(encodeIdx({ dtype: 'ubyte', dims: [3], data: [1, 2, 3] }, 'x')));
    expect(Array.from((await readIdx(gzNamedRaw)).data)).toEqual([1, 2, 3]);
    const rawNamedGz = join(dir, 'looks-gz.idx.gz');
    writeFileSync(rawNamedGz, encodeIdx({ dtype: 'ubyte', dims: [2], data: [9, 8] }, 'x'));
    expect(Array.from((await readIdx(rawNamedGz)).data)).toEqual([9, 8]);
  });

  it('refuses values that do not fit the dtype', async () => {
    const path = join(dir, 'nofit.idx');
    await rejects(writeIdx(path, { dtype: 'ubyte', dims: [2], data: [1, 256] }), path, 'value 256 at index 1');
    await rejects(writeIdx(path, { dtype: 'ubyte', dims: [3], data: [1, 2] }), path, 'hold 3 values but data has 2');
  });
});

describe('IDX validation', () => {
  it('truncated header', async () => {
    const path = join(dir, 'short.idx');
    writeFileSync(path, Buffer.from([0, 0, 8]));
    await rejects(readIdx(path), path, 'too short for an IDX header');
    writeFileSync(path, header(8, [5, 4]).subarray(0, 9));
    await rejects(readIdx(path), path, '2 dimensions need 12 header bytes but the file has 9');
  });

  it('wrong magic number', async () => {
    const path = join(dir, 'magic.idx');
    const b = Buffer.concat([header(8, [2]), Buffer.from([1, 2])]);
    b[0] = 0x12;
    b[1] = 0x34;
    writeFileSync(path, b);
    const e = await rejects(readIdx(path), path, 'magic number starts with 0x12 0x34');
    expect(e.message.startsWith(`${path}: `)).toBe(true);
  });

  it('unknown dtype code', async () => {
    const path = join(dir, 'dtype.idx');
    writeFileSync(path, Buffer.concat([header(0x0a, [2]), Buffer.from([1, 2])]));
    await rejects(readIdx(path), path, 'unknown IDX data type code 0x0A');
  });

  it('header claiming more images than the file holds (truncated data)', async () => {
    const path = join(dir, 'data/x.idx');
    await writeIdx(path, { dtype: 'ubyte', dims: [1000], data: new Uint8Array(1000) });
    // Same 1000 data bytes, but a header claiming 60000×28×28.
    writeFileSync(path, Buffer.concat([header(8, [60000, 28, 28]), Buffer.alloc(1000)]));
    const e = await rejects(readIdx(path));
    expect(e.message).toBe(`${path}: truncated: header claims 60000×28×28 ubyte (47040000 bytes) but only 1000 bytes follow`);
  });

  it('truncated gzip payload and corrupt gzip', async () => {
    const path = join(dir, 'trunc.idx.gz');
    writeFileSync(path, gzipSync(Buffer.concat([header(0x0c, [10]), Buffer.alloc(12)])));
    await rejects(readIdx(path), path, 'truncated: header claims 10 int (40 bytes) but only 12 bytes follow');
    const full = gzipSync(Buffer.concat([header(8, [100]), Buffer.alloc(100)]));
    writeFileSync(path, full.subarray(0, full.length - 10));
    await rejects(readIdx(path), path, 'corrupt gzip data');
  });

  it('trailing garbage', async () => {
    const path = join(dir, 'trailing.idx');
    writeFileSync(path, Buffer.concat([header(8, [2, 2]), Buffer.alloc(4 + 3)]));
    await rejects(readIdx(path), path, '3 bytes of trailing garbage after 2×2 ubyte (4 bytes)');
  });

  it('missing file', async () => {
    const path = join(dir, 'nope.idx');
    await rejects(readIdx(path), path, 'no such file');
  });

  it('parseIdx names the given source', () => {
    let err: unknown;
    try {
      parseIdx(new Uint8Array([1]), 'mem');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(HemlockInputError);
    expect((err as Error).message).toMatch(/^mem: too short/);
  });
});

describe('loadIdxImages', () => {
  it('scales ubyte images by 1/255 and keeps labels', async () => {
    const x = join(dir, 'li-x.idx.gz');
    const y = join(dir, 'li-y.idx.gz');
    await writeIdx(x, { dtype: 'ubyte', dims: [3, 2, 2], data: [0, 255, 51, 102, 1, 2, 3, 4, 5, 6, 7, 8] }, { gzip: true });
    await writeIdx(y, { dtype: 'ubyte', dims: [3], data: [2, 0, 1] }, { gzip: true });
    const ds = await loadIdxImages(x, y, { name: 'li', classNames: ['a', 'b', 'c'] });
    expect(ds.shape).toEqual([3, 2, 2, 1]);
    expect(ds.images[1]).toBe(1);
    expect(ds.images[2]).toBeCloseTo(0.2, 6);
    expect(Array.from(ds.labels)).toEqual([2, 0, 1]);
    expect(ds.classNames).toEqual(['a', 'b', 'c']);
    const dflt = await loadIdxImages(x, y);
    expect(dflt.classNames).toEqual(['0', '1', '2']);
    expect(dflt.name).toBe(x);
  });

  it('accepts N×H×W×C images and float data in [0, 1]', async () => {
    const x = join(dir, 'li4-x.idx');
    const y = join(dir, 'li4-y.idx');
    await writeIdx(x, { dtype: 'float', dims: [1, 1, 2, 3], data: [0, 0.25, 0.5, 0.75, 1, 0.125] });
    await writeIdx(y, { dtype: 'int', dims: [1], data: [0] });
    const ds = await loadIdxImages(x, y);
    expect(ds.shape).toEqual([1, 1, 2, 3]);
    expect(Array.from(ds.images)).toEqual([0, 0.25, 0.5, 0.75, 1, 0.125]);
    await writeIdx(x, { dtype: 'float', dims: [1, 1, 2, 3], data: [0, 0.25, 0.5, 0.75, 1.5, 0.125] });
    await rejects(loadIdxImages(x, y), x, 'value 1.5');
  });

  it('checks image and label counts match', async () => {
    const x = join(dir, 'cnt-x.idx');
    const y = join(dir, 'cnt-y.idx');
    await writeIdx(x, { dtype: 'ubyte', dims: [3, 1, 1], data: [1, 2, 3] });
    await writeIdx(y, { dtype: 'ubyte', dims: [2], data: [0, 1] });
    await rejects(loadIdxImages(x, y), y, 'holds 2 labels', `${x} holds 3 images`);
  });

  it('checks labels against class names and shapes', async () => {
    const x = join(dir, 'lab-x.idx');
    const y = join(dir, 'lab-y.idx');
    await writeIdx(x, { dtype: 'ubyte', dims: [2, 1, 1], data: [1, 2] });
    await writeIdx(y, { dtype: 'ubyte', dims: [2], data: [0, 5] });
    await rejects(loadIdxImages(x, y, { classNames: ['a', 'b'] }), y, 'label 5 at index 1 is outside [0, 2)');
    await writeIdx(y, { dtype: 'byte', dims: [2], data: [0, -1] });
    await rejects(loadIdxImages(x, y), y, 'negative label -1 at index 1');
    await rejects(loadIdxImages(y, y), y, 'expected images of shape N×H×W or N×H×W×C, got 2');
  });
});
