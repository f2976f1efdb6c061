import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HemlockInputError } from '../engine/errors.js';
import { encodeNpy, loadNpyImages, parseNpy, readNpy, writeNpy } from './npy.js';

const dir = mkdtempSync(join(tmpdir(), 'hemlock-npy-'));
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

/** Files written by numpy 2.4 (np.save), base64. */
const NUMPY = {
  f4: 'k05VTVBZAQB2AHsnZGVzY3InOiAnPGY0JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDIsIDIpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAAAAPwAAgD8AAIA+',
  i8: 'k05VTVBZAQB2AHsnZGVzY3InOiAnPGk4JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDMsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoDAAAAAAAAAP//////////BwAAAAAAAAA=',
  u1: 'k05VTVBZAQB2AHsnZGVzY3InOiAnfHUxJywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDEsIDIsIDMpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAQIDBAU=',
  b1: 'k05VTVBZAQB2AHsnZGVzY3InOiAnfGIxJywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDMsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoBAAE=',
  f8: 'k05VTVBZAQB2AHsnZGVzY3InOiAnPGY4JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDIsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAqamZmZmZm5P5qZmZmZmck/',
  c8: 'k05VTVBZAQB2AHsnZGVzY3InOiAnPGM4JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDEsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAIA/AAAAQA==',
  O: 'k05VTVBZAQB2AHsnZGVzY3InOiAnfE8nLCAnZm9ydHJhbl9vcmRlcic6IEZhbHNlLCAnc2hhcGUnOiAoMSwpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAqABJWSAAAAAAAAAIwWbnVtcHkuX2NvcmUubXVsdGlhcnJheZSMDF9yZWNvbnN0cnVjdJSTlIwFbnVtcHmUjAduZGFycmF5lJOUSwCFlEMBYpSHlFKUKEsBSwGFlGgDjAVkdHlwZZSTlIwCTziUiYiHlFKUKEsDjAF8lE5OTkr/////Sv////9LP3SUYoldlH2UjAFhlEsBc2F0lGIu',
  be: 'k05VTVBZAQB2AHsnZGVzY3InOiAnPmY0JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDEsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAo/gAAA',
  fortran: 'k05VTVBZAQB2AHsnZGVzY3InOiAnPGY0JywgJ2ZvcnRyYW5fb3JkZXInOiBUcnVlLCAnc2hhcGUnOiAoMiwgMyksIH0gICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAIA/AACAPwAAgD8AAIA/AACAPwAAgD8=',
  v2: 'k05VTVBZAgB0AAAAeydkZXNjcic6ICc8aTQnLCAnZm9ydHJhbl9vcmRlcic6IEZhbHNlLCAnc2hhcGUnOiAoMiwpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoBAAAAAgAAAA==',
  scalar: 'k05VTVBZAQB2AHsnZGVzY3InOiAnPGY0JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKCksIH0gICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAACBA',
};
const np = (k: keyof typeof NUMPY): Uint8Array => new Uint8Array(Buffer.from(NUMPY[k], 'base64'));

describe('NPY round trip', () => {
  it('f4', async () => {
    const path = join(dir, 'f4.npy');
    const data = [0, 0.5, 1, 0.25, Math.fround(0.1), -3];
    await writeNpy(path, { dtype: 'f4', shape: [2, 3], data });
    const back = await readNpy(path);
    expect(back).toMatchObject({ dtype: 'f4', shape: [2, 3] });
    expect(back.data).toBeInstanceOf(Float32Array);
    expect(Array.from(back.data)).toEqual(data);
  });

  it('u1', async () => {
    const path = join(dir, 'u1.npy');
    await writeNpy(path, { dtype: 'u1', shape: [2, 2, 1], data: [0, 1, 128, 255] });
    const back = await readNpy(path);
    expect(back).toMatchObject({ dtype: 'u1', shape: [2, 2, 1] });
    expect(Array.from(back.data)).toEqual([0, 1, 128, 255]);
  });

  it('i8 and i4', async () => {
    const path = join(dir, 'i8.npy');
    await writeNpy(path, { dtype: 'i8', shape: [4], data: [0, -1, 2147483647, -2147483648] });
    const back = await readNpy(path);
    expect(back).toMatchObject({ dtype: 'i8', shape: [4] });
    expect(back.data).toBeInstanceOf(Int32Array);
    expect(Array.from(back.data)).toEqual([0, -1, 2147483647, -2147483648]);
    await writeNpy(path, { dtype: 'i4', shape: [2], data: [5, -7] });
    expect(Array.from((await readNpy(path)).data)).toEqual([5, -7]);
  });

  it('writes headers byte-identical to numpy', () => {
    expect(Buffer.from(encodeNpy({ dtype: 'f4', shape: [2, 2], data: [0, 0.5, 1, 0.25] }, 'x'))).toEqual(Buffer.from(np('f4')));
    expect(Buffer.from(encodeNpy({ dtype: 'i8', shape: [3], data: [3, -1, 7] }, 'x'))).toEqual(Buffer.from(np('i8')));
    expect(Buffer.from(encodeNpy({ dtype: 'u1', shape: [1, 2, 3], data: [0, 1, 2, 3, 4, 5] }, 'x'))).toEqual(Buffer.from(np('u1')));
  });

  it('refuses values that do not fit', async () => {
    const path = join(dir, 'bad.npy');
    await rejects(writeNpy(path, { dtype: 'u1', shape: [1], data: [300] }), path, 'value 300 at index 0');
    await rejects(writeNpy(path, { dtype: 'f4', shape: [2], data: [1] }), path, 'holds 2 values but data has 1');
  });
});

describe('NPY files written by numpy', () => {
  it('reads f4, i8, u1, b1, f8 (narrowed to float32), v2.0 and 0-d', () => {
    expect(Array.from(parseNpy(np('f4'), 'f4').data)).toEqual([0, 0.5, 1, 0.25]);
    expect(Array.from(parseNpy(np('i8'), 'i8').data)).toEqual([3, -1, 7]);
    expect(parseNpy(np('u1'), 'u1').shape).toEqual([1, 2, 3]);
    expect(parseNpy(np('b1'), 'b1')).toMatchObject({ dtype: 'b1', shape: [3] });
    expect(Array.from(parseNpy(np('b1'), 'b1').data)).toEqual([1, 0, 1]);
    const f8 = parseNpy(np('f8'), 'f8');
    expect(f8.dtype).toBe('f8');
    expect(f8.data).toBeInstanceOf(Float32Array);
    expect(Array.from(f8.data)).toEqual([Math.fround(0.1), Math.fround(0.2)]);
    expect(Array.from(parseNpy(np('v2'), 'v2').data)).toEqual([1, 2]);
    expect(parseNpy(np('scalar'), 's')).toMatchObject({ shape: [] });
    expect(Array.from(parseNpy(np('scalar'), 's').data)).toEqual([2.5]);
  });
});

describe('NPY validation', () => {
  const cases: [keyof typeof NUMPY, string][] = [
    ['c8', "unsupported dtype '<c8': complex numbers are not supported"],
    ['O', "unsupported dtype '|O': object arrays"],
    ['be', "unsupported dtype '>f4': big-endian"],
    ['fortran', 'fortran_order True is not supported'],
  ];
  for (const [k, msg] of cases) {
    it(`rejects ${k}`, async () => {
      const path = join(dir, `${k}.npy`);
      writeFileSync(path, np(k));
      const e = await rejects(readNpy(path), msg);
      expect(e.message.startsWith(`${path}: `)).toBe(true);
    });
  }

  it('bad magic', async () => {
    const path = join(dir, 'magic.npy');
    writeFileSync(path, Buffer.from('PK\x03\x04 this is a zip'));
    await rejects(readNpy(path), path, 'not an NPY file: bad magic');
  });

  it('truncated data and trailing garbage', async () => {
    const path = join(dir, 'trunc.npy');
    const full = encodeNpy({ dtype: 'f4', shape: [10, 10], data: new Float32Array(100) }, 'x');
    writeFileSync(path, full.subarray(0, full.length - 8));
    await rejects(readNpy(path), path, 'truncated: header claims 10×10 <f4 (400 bytes) but only 392 bytes follow');
    writeFileSync(path, Buffer.concat([full, Buffer.alloc(3)]));
    await rejects(readNpy(path), path, '3 bytes of trailing garbage');
  });

  it('truncated header', async () => {
    const path = join(dir, 'hdr.npy');
    writeFileSync(path, np('f4').subarray(0, 40));
    await rejects(readNpy(path), path, 'truncated NPY header');
  });

  it('int64 values beyond int32', async () => {
    const path = join(dir, 'big.npy');
    const b = encodeNpy({ dtype: 'i8', shape: [1], data: [2 ** 40] }, 'x');
    writeFileSync(path, b);
    await rejects(readNpy(path), path, 'int64 value 1099511627776 at index 0 does not fit in int32');
  });
});

describe('loadNpyImages', () => {
  it('u1 N×H×W gets C=1 and is scaled by 1/255', async () => {
    const x = join(dir, 'x_u1.npy');
    const y = join(dir, 'y_u1.npy');
    await writeNpy(x, { dtype: 'u1', shape: [2, 1, 2], data: [0, 255, 51, 102] });
    await writeNpy(y, { dtype: 'i8', shape: [2, 1], data: [1, 0] });
    const ds = await loadNpyImages(x, y);
    expect(ds.shape).toEqual([2, 1, 2, 1]);
    expect(Array.from(ds.images)).toEqual([0, 1, 51 / 255, 102 / 255].map(Math.fround));
    expect(Array.from(ds.labels)).toEqual([1, 0]);
    expect(ds.classNames).toEqual(['0', '1']);
  });

  it('f4 N×H×W×C must be in [0, 1]', async () => {
    const x = join(dir, 'x_f4.npy');
    const y = join(dir, 'y_f4.npy');
    await writeNpy(x, { dtype: 'f4', shape: [1, 1, 1, 3], data: [0, 0.5, 1] });
    await writeNpy(y, { dtype: 'u1', shape: [1], data: [0] });
    expect((await loadNpyImages(x, y, { classNames: ['only'] })).shape).toEqual([1, 1, 1, 3]);
    await writeNpy(x, { dtype: 'f4', shape: [1, 1, 1, 3], data: [0, 127, 1] });
    await rejects(loadNpyImages(x, y), x, 'image 0 has value 127', 'must be in [0, 1]');
  });

  it('mismatched counts and bad label arrays', async () => {
    const x = join(dir, 'x_m.npy');
    const y = join(dir, 'y_m.npy');
    await writeNpy(x, { dtype: 'u1', shape: [3, 1, 1], data: [1, 2, 3] });
    await writeNpy(y, { dtype: 'i4', shape: [2], data: [0, 1] });
    await rejects(loadNpyImages(x, y), y, 'holds 2 labels', `${x} holds 3 images`);
    await writeNpy(y, { dtype: 'f4', shape: [3], data: [0, 1, 0] });
    await rejects(loadNpyImages(x, y), y, 'labels must be integers');
    await writeNpy(y, { dtype: 'i4', shape: [3], data: [0, -2, 0] });
    await rejects(loadNpyImages(x, y), y, 'negative label -2 at index 1');
    await rejects(loadNpyImages(y, y), y, 'expected images of shape');
    expect(readFileSync(x).length).toBeGreaterThan(0);
  });
});
