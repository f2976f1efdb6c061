#!/usr/bin/env node
// Builds data/fashion-mnist-mini/: a balanced, seeded subset of Fashion-MNIST
// (600 train + 100 test images per class = 6,000 + 1,000) stored as gzip IDX
// files, plus a README with provenance and sha256 sums.
//
// Self-contained on purpose (Node built-ins only, no build step):
//   node scripts/make-fashion-mnist-mini.mjs [SOURCE_DIR] [OUT_DIR]
// SOURCE_DIR defaults to /usr/share/datasets/fashion-mnist (Debian package
// dataset-fashion-mnist); OUT_DIR to data/fashion-mnist-mini beside this script.
//
// Determinism: the selection uses mulberry32, a tiny 32-bit seeded PRNG
// implemented below, with a fixed seed, so the same source files always give
// the same subset. Output gzip uses level 9 and Node's zlib header (mtime 0),
// so the .gz bytes are reproducible for a given zlib; the README also lists
// the sha256 of the decompressed IDX payloads, which do not depend on zlib.

import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync, gzipSync } from 'node:zlib';

const SEED = 20240611;
const TRAIN_PER_CLASS = 600;
const TEST_PER_CLASS = 100;
const NUM_CLASSES = 10;
const MAX_TOTAL_BYTES = 10 * 1024 * 1024;

const here = dirname(fileURLToPath(import.meta.url));
const sourceDir = resolve(process.argv[2] ?? '/usr/share/datasets/fashion-mnist');
const outDir = resolve(process.argv[3] ?? join(here, '..', 'data', 'fashion-mnist-mini'));

/** mulberry32: 32-bit state, returns floats in [0, 1). Public-domain algorithm by Tommy Ettinger. */
function mulberry32(seed) {
  let a = seed >>> 0;
  return function next() {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function sha256(bytes) {
  return createHash('sha256').update(bytes).digest('hex');
}

function fail(msg) {
  console.error(`make-fashion-mnist-mini: ${msg}`);
  process.exit(2);
}

function findSource(base) {
  for (const name of [base, `${base}.gz`]) {
    const p = join(sourceDir, name);
    if (existsSync(p)) return p;
  }
  fail(`${join(sourceDir, base)}[.gz] not found (install Debian's dataset-fashion-mnist: apt-get install dataset-fashion-mnist, or pass SOURCE_DIR)`);
}

/** Reads an IDX file (raw or gzip, detected by magic bytes); returns { dims, data, raw }. */
function readIdx(path) {
  let raw = readFileSync(path);
  if (raw[0] === 0x1f && raw[1] === 0x8b) raw = gunzipSync(raw);
  if (raw.length < 4 || raw[0] !== 0 || raw[1] !== 0) fail(`${path}: not an IDX file`);
  if (raw[2] !== 0x08) fail(`${path}: expected ubyte data (0x08), got 0x${raw[2].toString(16)}`);
  const ndim = raw[3];
  const dims = [];
  for (let i = 0; i < ndim; i++) dims.push(raw.readUInt32BE(4 + 4 * i));
  const header = 4 + 4 * ndim;
  const n = dims.reduce((a, b) => a * b, 1);
  if (raw.length !== header + n) fail(`${path}: header claims ${dims.join('×')} ubyte (${n} bytes) but ${raw.length - header} bytes follow`);
  return { dims, data: raw.subarray(header), raw };
}

function encodeIdx(dims, data) {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header[2] = 0x08;
  header[3] = dims.length;
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([header, Buffer.from(data.buffer, data.byteOffset, data.byteLength)]);
}

function writeAtomic(path, bytes) {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    writeFileSync(tmp, bytes);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/** Picks `perClass` indices of every class (Fisher–Yates with `rand`), returned in ascending order. */
function balancedSubset(labels, perClass, rand) {
  const chosen = [];
  for (let c = 0; c < NUM_CLASSES; c++) {
    const idx = [];
    for (let i = 0; i < labels.length; i++) if (labels[i] === c) idx.push(i);
    if (idx.length < perClass) fail(`class ${c} has only ${idx.length} images, need ${perClass}`);
    for (let i = idx.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [idx[i], idx[j]] = [idx[j], idx[i]];
    }
    chosen.push(...idx.slice(0, perClass));
  }
  return chosen.sort((a, b) => a - b);
}

function makeSplit(stem, perClass, rand) {
  const imgPath = findSource(`${stem}-images-idx3-ubyte`);
  const lblPath = findSource(`${stem}-labels-idx1-ubyte`);
  const images = readIdx(imgPath);
  const labels = readIdx(lblPath);
  const [n, h, w] = images.dims;
  if (images.dims.length !== 3 || labels.dims.length !== 1 || labels.dims[0] !== n) fail(`${stem}: unexpected shapes ${images.dims} / ${labels.dims}`);
  const pick = balancedSubset(labels.data, perClass, rand);
  const per = h * w;
  const x = new Uint8Array(pick.length * per);
  const y = new Uint8Array(pick.length);
  pick.forEach((src, k) => {
    x.set(images.data.subarray(src * per, (src + 1) * per), k * per);
    y[k] = labels.data[src];
  });
  return {
    stem,
    sources: [imgPath, lblPath].map((p) => ({ path: p, sha256: sha256(readFileSync(p)) })),
    sourceCount: n,
    indices: pick,
    files: [
      { name: `${stem}-images-idx3-ubyte.gz`, raw: encodeIdx([pick.length, h, w], x), dims: [pick.length, h, w] },
      { name: `${stem}-labels-idx1-ubyte.gz`, raw: encodeIdx([pick.length], y), dims: [pick.length] },
    ],
  };
}

const rand = mulberry32(SEED);
const splits = [makeSplit('train', TRAIN_PER_CLASS, rand), makeSplit('t10k', TEST_PER_CLASS, rand)];

const rows = [];
let total = 0;
for (const s of splits) {
  for (const f of s.files) {
    const gz = gzipSync(f.raw, { level: 9 });
    writeAtomic(join(outDir, f.name), gz);
    total += gz.length;
    rows.push({ name: f.name, dims: f.dims.join('×'), bytes: gz.length, sha256: sha256(gz), rawSha256: sha256(f.raw) });
  }
}
if (total > MAX_TOTAL_BYTES) fail(`output is ${total} bytes, more than the ${MAX_TOTAL_BYTES}-byte budget`);

const readme = `# fashion-mnist-mini

A small, class-balanced subset of [Fashion-MNIST](https://github.com/zalandoresearch/fashion-mnist)
bundled with hemlock so tests, demos and quick experiments run without a download.

| split | images | per class | from |
|-------|-------:|----------:|------|
| train | ${TRAIN_PER_CLASS * NUM_CLASSES} | ${TRAIN_PER_CLASS} | the 60,000 Fashion-MNIST training images |
| test  | ${TEST_PER_CLASS * NUM_CLASSES} | ${TEST_PER_CLASS} | the 10,000 Fashion-MNIST test (t10k) images |

Images are 28×28 grayscale (uint8), labels 0–9:
0 T-shirt/top, 1 Trouser, 2 Pullover, 3 Dress, 4 Coat, 5 Sandal, 6 Shirt, 7 Sneaker, 8 Bag, 9 Ankle boot.
The files use the original IDX format, gzip-compressed, with the original names.
Load them with \`loadDataset('fashion-mnist-mini')\` from \`src/data\`.

## Source and license

Fashion-MNIST is Copyright (c) 2017 Zalando SE (Zalando Research) and is released
under the MIT license: https://github.com/zalandoresearch/fashion-mnist/blob/master/LICENSE
This subset is a derivative of it and is distributed under the same MIT license;
the copyright notice and permission notice of that license apply to these files.

The source files were those installed by Debian's \`dataset-fashion-mnist\` package in
\`${sourceDir}\`:

| file | sha256 |
|------|--------|
${splits.flatMap((s) => s.sources).map((f) => `| ${basename(f.path)} | \`${f.sha256}\` |`).join('\n')}

## How it was made

\`node scripts/make-fashion-mnist-mini.mjs\` (self-contained, Node built-ins only):

1. Read the four IDX files (gzip detected by its magic bytes).
2. For the train split, then the test split, and within each for class 0, 1, …, 9:
   list the indices of that class in file order, shuffle them with Fisher–Yates
   driven by **mulberry32** (a small seeded 32-bit PRNG implemented inline in the
   script) seeded with **${SEED}** — one generator for the whole run — and keep
   the first ${TRAIN_PER_CLASS} (train) or ${TEST_PER_CLASS} (test).
3. Sort the kept indices ascending (so the original, already shuffled file order is
   preserved) and write images and labels as IDX ubyte, gzip level 9.

Re-running the script on the same source files gives the same selection; the
decompressed IDX payloads are byte-identical (see \`raw sha256\`), and the .gz bytes are
identical for the same zlib version.

## Files

| file | shape | bytes | sha256 | raw sha256 (decompressed) |
|------|-------|------:|--------|---------------------------|
${rows.map((r) => `| ${r.name} | ${r.dims} | ${r.bytes} | \`${r.sha256}\` | \`${r.rawSha256}\` |`).join('\n')}

Total: ${total} bytes.

## License text (Fashion-MNIST)

\`\`\`
The MIT License (MIT)

Copyright © [2017] Zalando SE, https://tech.zalando.com

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in
all copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN
THE SOFTWARE.
\`\`\`
`;
writeAtomic(join(outDir, 'README.md'), readme);

console.log(`wrote ${rows.length} files (${total} bytes) and README.md to ${outDir}`);
for (const r of rows) console.log(`  ${r.name}  ${r.dims}  ${r.bytes} B  sha256 ${r.sha256}`);
