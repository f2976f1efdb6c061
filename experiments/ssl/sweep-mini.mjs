#!/usr/bin/env node
// One-change-at-a-time recipe sweep for the SSL methods on fashion-mnist-mini
// (6,000 training images, 1,000 test images), so that a recipe change is
// measured before it costs a full-set run. Each variant is the mini SimCLR
// spec (experiments/ssl/simclr.yaml, without the random-init baseline, which
// does not depend on the variant) with the listed overrides; it is run through
// the CLI like any spec and its linear-probe test accuracy is collected.
//   node experiments/ssl/sweep-mini.mjs [--only a,b] [--parallel 2] [--epochs 10] [--out runs/ssl-sweep] [--hemlock bin/hemlock.js]
// With --parallel P each run gets HEMLOCK_THREADS=1 (P single-thread runs use
// two cores better than one two-thread run). Results: OUT/results.jsonl and a
// markdown table on stdout. The 1,000-image test set gives a standard error of
// about 1.2 points, so differences below ~2.5 points are noise.
import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const BASE = {
  seed: 0,
  data: { dataset: 'fashion-mnist-mini' },
  model: { architecture: 'convnet-s' },
  pretrain: {
    method: 'simclr',
    epochs: 10,
    batchSize: 256,
    projector: { hidden: 256, out: 128, layers: 2, batchNorm: true },
    optimizer: { kind: 'adam', lr: 0.002, weightDecay: 0.000001 },
    schedule: { kind: 'cosine' },
    knn: { k: 20, temperature: 0.1, every: 10 },
    temperature: 0.2,
  },
  probe: { mode: 'linear', epochs: 300, optimizer: { kind: 'adam', lr: 0.01 }, standardize: true, baseline: false },
};

// Method switches drop SimCLR's temperature and add the method's own fields (as in experiments/ssl/*.yaml).
const BYOL = { 'pretrain.method': 'byol', 'pretrain.temperature': undefined, 'pretrain.momentumEnd': 1, 'pretrain.predictorHidden': 256 };
const BARLOW = { 'pretrain.method': 'barlow', 'pretrain.temperature': undefined, 'pretrain.lambda': 0.0051, 'pretrain.scale': 0.1 };
export const VARIANTS = {
  'simclr-base': {},
  'simclr-tau0.1': { 'pretrain.temperature': 0.1 },
  'simclr-tau0.5': { 'pretrain.temperature': 0.5 },
  'simclr-crop0.5': { 'pretrain.augment.cropScale': [0.5, 1] },
  'simclr-crop0.08': { 'pretrain.augment.cropScale': [0.08, 1] },
  'simclr-lr5e-3': { 'pretrain.optimizer.lr': 0.005 },
  'simclr-batch128': { 'pretrain.batchSize': 128 },
  'simclr-noise-blur': { 'pretrain.augment.noise': 0.05, 'pretrain.augment.blurProb': 0.5 },
  'simclr-no-jitter': { 'pretrain.augment.jitterProb': 0 },
  'simclr-proj512': { 'pretrain.projector.hidden': 512 },
  'simclr-wd1e-4': { 'pretrain.optimizer.weightDecay': 0.0001 },
  'byol-m0.9': { ...BYOL, 'pretrain.momentum': 0.9 },
  'byol-m0.96': { ...BYOL, 'pretrain.momentum': 0.96 },
  'byol-m0.99': { ...BYOL, 'pretrain.momentum': 0.99 },
  'byol-m0.96-lr5e-3': { ...BYOL, 'pretrain.momentum': 0.96, 'pretrain.optimizer.lr': 0.005 },
  'barlow-base': { ...BARLOW },
  'barlow-proj512': { ...BARLOW, 'pretrain.projector.hidden': 512, 'pretrain.projector.out': 512 },
  'barlow-proj1024': { ...BARLOW, 'pretrain.projector.hidden': 1024, 'pretrain.projector.out': 1024 },
  'barlow-lambda0.02': { ...BARLOW, 'pretrain.lambda': 0.02 },
  'barlow-lr5e-3': { ...BARLOW, 'pretrain.optimizer.lr': 0.005 },
};

function parseArgs(argv) {
  const opts = { only: null, parallel: 2, epochs: 10, out: 'runs/ssl-sweep', hemlock: 'bin/hemlock.js' };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (value === undefined) fail(`missing value after ${flag}`);
    if (flag === '--only') opts.only = value.split(',');
    else if (flag === '--parallel') opts.parallel = positiveInt(flag, value);
    else if (flag === '--epochs') opts.epochs = positiveInt(flag, value);
    else if (flag === '--out') opts.out = value;
    else if (flag === '--hemlock') opts.hemlock = value;
    else fail(`unknown option ${flag}`);
  }
  for (const name of opts.only ?? []) if (!(name in VARIANTS)) fail(`unknown variant "${name}" (known: ${Object.keys(VARIANTS).join(', ')})`);
  return opts;
}
function positiveInt(flag, value) {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) fail(`${flag} must be a positive integer, got "${value}"`);
  return n;
}
function fail(message) {
  console.error(`sweep-mini: ${message}`);
  process.exit(2);
}

/** The base spec with dotted-path overrides; an `undefined` value deletes the field. */
export function variantSpec(name, overrides, epochs) {
  const spec = structuredClone(BASE);
  spec.name = `ssl-sweep-${name}`;
  spec.pretrain.epochs = epochs;
  for (const [path, value] of Object.entries(overrides)) {
    const keys = path.split('.');
    let node = spec;
    for (const k of keys.slice(0, -1)) node = node[k] ??= {};
    if (value === undefined) delete node[keys.at(-1)];
    else node[keys.at(-1)] = value;
  }
  return spec;
}

function runOne(opts, name) {
  const specPath = join(opts.out, `${name}.json`);
  writeFileSync(specPath, JSON.stringify(variantSpec(name, VARIANTS[name], opts.epochs), null, 1));
  const env = { ...process.env, ...(opts.parallel > 1 ? { HEMLOCK_THREADS: '1' } : {}) };
  return new Promise((done) => {
    const child = spawn(process.execPath, [opts.hemlock, 'run', specPath, '--json', '--out', join(opts.out, 'runs', name)], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => {
      const last = stdout.trim().split('\n').at(-1) ?? '';
      let row;
      try {
        const r = JSON.parse(last);
        row = { variant: name, overrides: VARIANTS[name], epochs: opts.epochs, probeAccuracy: r.testAccuracy, seconds: r.trainSeconds, runDir: r.runDir };
      } catch {
        row = { variant: name, overrides: VARIANTS[name], epochs: opts.epochs, error: `exit ${code}: ${stderr.trim().split('\n').at(-1) ?? ''}` };
      }
      appendFileSync(join(opts.out, 'results.jsonl'), `${JSON.stringify(row)}\n`);
      console.error(`${name}: ${row.error ?? (row.probeAccuracy * 100).toFixed(1) + '%'}`);
      done(row);
    });
  });
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (!existsSync(opts.hemlock)) fail(`no CLI at ${resolve(opts.hemlock)} (build first: npm run build)`);
  mkdirSync(opts.out, { recursive: true });
  const queue = [...(opts.only ?? Object.keys(VARIANTS))];
  const rows = [];
  const worker = async () => {
    for (let name = queue.shift(); name !== undefined; name = queue.shift()) rows.push(await runOne(opts, name));
  };
  await Promise.all(Array.from({ length: opts.parallel }, worker));
  const order = Object.keys(VARIANTS);
  rows.sort((a, b) => order.indexOf(a.variant) - order.indexOf(b.variant));
  console.log('| variant | change from the mini spec | linear probe | pre-training (s) |');
  console.log('|---|---|---|---|');
  for (const r of rows) {
    const change = Object.entries(r.overrides).filter(([, v]) => v !== undefined).map(([k, v]) => `${k.replace('pretrain.', '')} = ${JSON.stringify(v)}`).join(', ') || '–';
    console.log(`| ${r.variant} | ${change} | ${r.error ? r.error : (r.probeAccuracy * 100).toFixed(1) + '%'} | ${r.seconds ? Math.round(r.seconds) : '–'} |`);
  }
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(new URL(import.meta.url).pathname)) await main();
