#!/usr/bin/env node
// Cheap Witches' Brew experiments (issue 6, step 2 of the T4 investigation):
// brew against a clean brewing model, then retrain victims from scratch on the
// poisoned set and on the same images with random ±ε noise, and print one JSON
// line per setup (also appended to --log). Optional diagnostics: the matching
// loss of the brewed poisons measured on *other* clean models (transfer of the
// gradient alignment), and the target's p(adversarial) during victim training.
//
//   HEMLOCK_THREADS=1 HEMLOCK_DIST=.hemlock/frozen-t4x/dist node experiments/t4/explore.mjs \
//     --classes 0,6 --eps 16 --budget 0.01 --epochs 10 --victim sgd --setups 3 --retrain 2
//
// Every option is listed in DEFAULTS below. It imports the compiled library
// (HEMLOCK_DIST, default ./dist), so freeze the build for long runs. The runs
// and their results are listed in experiments/t4/RESULTS.md; tables:
//   node experiments/t4/explore-summary.mjs runs/t4x/explore.jsonl
import { appendFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const DIST = resolve(process.env.HEMLOCK_DIST ?? 'dist');
const imp = (p) => import(pathToFileURL(`${DIST}/${p}`).href);
const { tf } = await imp('engine/tf.js');
const { initBackend } = await imp('engine/backend.js');
const { Rng } = await imp('engine/rng.js');
const { loadDataset } = await imp('data/builtin.js');
const { buildModel } = await imp('models/registry.js');
const { disposeModule } = await imp('models/module.js');
const { trainSupervised } = await imp('train/trainer.js');
const { predictLabels } = await imp('train/evaluate.js');
const wb = await imp('attacks/witchesBrew.js');
const gm = await imp('attacks/gradientMatching.js');
const { getBrewingModel, datasetHash } = await imp('attacks/brewingModel.js');

const DEFAULTS = {
  classes: '', // e.g. "0,6": keep and relabel a class subset
  perClass: 0, // cap training images per class (0 = all)
  widths: '32,64,128',
  arch: 'convnet-s', // convnet-s | resnet | mlp (victims and brewing models)
  modelOptions: '', // JSON options for non-ConvNet-S architectures, e.g. '{"width":16}'
  eps: 16, // /255
  budget: 0.01,
  epochs: 10, // victims
  brewEpochs: 0, // 0 = same as victims
  victim: 'adam', // adam | sgd
  victimLr: 0, // 0 = 3e-3 (adam) / 0.05 (sgd)
  brewOpt: '', // '' = same optimizer as victims
  brewLr: 0,
  batch: 128,
  schedule: 'cosine', // cosine | step
  shift: 2,
  restarts: 2,
  steps: 250,
  tau: 0.1,
  aug: 1, // differentiable augmentation while brewing
  ensemble: 1,
  setups: 3,
  retrain: 2,
  noise: 1, // random-noise victims per setup
  clean: 0, // clean victims per setup (no poisons at all)
  copies: 0, // victims per setup trained with every poison replaced by a copy of the target (labels unchanged): the ε = ∞ upper bound of the threat model
  seed: 0,
  pair: '', // "t,a": fixed target class and adversarial class (in relabelled indices)
  pick: 'random', // random | closest (target = correctly classified test image of the target class with the highest p_adv under the brewing model)
  transfer: 1, // number of extra clean models (brewing seed + 100 + k) on which to measure the matching loss
  log: '',
  tag: '',
};

function parseArgs(argv) {
  const o = { ...DEFAULTS };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}`);
    const k = a.slice(2).replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    if (!(k in o)) throw new Error(`unknown option ${a}`);
    const v = argv[++i];
    o[k] = typeof DEFAULTS[k] === 'number' ? Number(v) : v;
  }
  return o;
}

const o = parseArgs(process.argv.slice(2));
const backend = await initBackend('wasm');
const mini = await loadDataset('fashion-mnist-mini');
let train = mini.train;
let test = mini.test;
if (o.classes) {
  const cls = o.classes.split(',').map(Number);
  train = train.filterClasses(cls, true);
  test = test.filterClasses(cls, true);
}
if (o.perClass > 0) {
  const count = new Array(train.numClasses).fill(0);
  const keep = [];
  for (let i = 0; i < train.count; i++) if (count[train.labels[i]] < o.perClass) keep.push(i), count[train.labels[i]]++;
  train = train.subset(keep);
}
const widths = o.widths.split(',').map(Number);
const modelOptions = o.arch === 'convnet-s' ? { widths } : o.modelOptions ? JSON.parse(o.modelOptions) : {};
const spec = { architecture: o.arch, inputShape: [28, 28, 1], numClasses: train.numClasses, head: 'linear', options: modelOptions };
const flip = true;
const recipeOf = (kind, lr, epochs) => ({
  epochs,
  batchSize: o.batch,
  optimizer: kind === 'sgd' ? { kind: 'sgd', lr: lr || 0.05, momentum: 0.9, nesterov: true, weightDecay: 5e-4 } : { kind: 'adam', lr: lr || 3e-3 },
  schedule: o.schedule === 'step' ? { kind: 'step', milestones: [0.375, 0.625, 0.875], gamma: 0.1 } : { kind: 'cosine' },
  augment: { shift: o.shift, shiftPadding: 'reflect', flip, brightness: 0, contrast: 0, noise: 0 },
});
const victimRecipe = recipeOf(o.victim, o.victimLr, o.epochs);
const brewRecipe = recipeOf(o.brewOpt || o.victim, o.brewLr || (o.brewOpt ? 0 : o.victimLr), o.brewEpochs || o.epochs);
const dataHash = datasetHash(train);
const log = (s) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${s}\n`);
log(`backend ${backend.name}; train ${train.count} (${train.numClasses} classes), test ${test.count}; options ${JSON.stringify(o)}`);

async function cleanModel(seed, recipe) {
  const t0 = performance.now();
  const bm = await getBrewingModel(train, spec, { ...recipe, seed }, { dataHash, onLog: log });
  const acc = predictLabels(bm.model, test).reduce((a, p, i) => a + (p === test.labels[i] ? 1 : 0), 0) / test.count;
  log(`clean model seed ${seed}: test accuracy ${(acc * 100).toFixed(2)}% (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
  return { model: bm.model, acc };
}

function probs(model, image) {
  return tf.tidy(() => tf.softmax(model.apply(tf.tensor4d(image, [1, 28, 28, 1]))).dataSync().slice());
}

/** 1 − cos between the target gradient and the (un-augmented) poison-batch gradient on `model`. */
function matchLossOn(model, targetImage, adv, poisonImages, poisonLabels) {
  const tg = gm.targetGradient(model, tf.tensor4d(targetImage, [1, 28, 28, 1]), adv);
  try {
    return tf.tidy(() => {
      const x = tf.tensor4d(poisonImages, [poisonLabels.length, 28, 28, 1]);
      const y = tf.tensor1d(poisonLabels, 'int32');
      return gm.matchingLoss(tg, x, y).dataSync()[0];
    });
  } finally {
    tg.dispose();
  }
}

/** Mean CE of the poison batch and the norm of its parameter gradient (how hard the poisons pull at all). */
function poisonStats(model, poisonImages, poisonLabels) {
  return tf.tidy(() => {
    const x = tf.tensor4d(poisonImages, [poisonLabels.length, 28, 28, 1]);
    const y = tf.tensor1d(poisonLabels, 'int32');
    const g = gm.parameterGradients(model, x, y);
    const norm = Math.sqrt(g.reduce((a, t) => a + tf.sum(tf.square(t)).dataSync()[0], 0));
    const p = tf.softmax(model.apply(x)).arraySync();
    const ce = -p.reduce((a, row, i) => a + Math.log(Math.max(1e-12, row[poisonLabels[i]])), 0) / p.length;
    return { ce: +ce.toFixed(4), gnorm: +norm.toFixed(4) };
  });
}

async function victim(data, seed, target, adv, poisonIdx) {
  const model = buildModel(spec, seed);
  const t0 = performance.now();
  const traj = [];
  try {
    await trainSupervised(model, data, { ...victimRecipe, seed }, { onEpochEnd: () => void traj.push(+probs(model, target)[adv].toFixed(4)) });
    const p = probs(model, target);
    let pred = 0;
    for (let k = 1; k < p.length; k++) if (p[k] > p[pred]) pred = k;
    const pl = predictLabels(model, test);
    const acc = pl.reduce((a, q, i) => a + (q === test.labels[i] ? 1 : 0), 0) / test.count;
    // How well the victim fits the poisons (their own labels) and the whole training set.
    const pp = predictLabels(model, data.subset(poisonIdx));
    const poisonFit = pp.reduce((a, q, k) => a + (q === data.labels[poisonIdx[k]] ? 1 : 0), 0) / pp.length;
    const tl = predictLabels(model, data);
    const trainAcc = tl.reduce((a, q, i) => a + (q === data.labels[i] ? 1 : 0), 0) / data.count;
    return { pred, pAdv: +p[adv].toFixed(4), acc: +acc.toFixed(4), poisonFit: +poisonFit.toFixed(3), trainAcc: +trainAcc.toFixed(3), traj, s: Math.round((performance.now() - t0) / 1000) };
  } finally {
    disposeModule(model);
  }
}

const brewing = [];
for (let k = 0; k < o.ensemble; k++) brewing.push(await cleanModel(k, brewRecipe));
const others = [];
for (let k = 0; k < o.transfer; k++) others.push(await cleanModel(100 + k, victimRecipe));

const fixed = o.pair ? o.pair.split(',').map(Number) : null;
const summary = { attack: [0, 0], noise: [0, 0], clean: [0, 0], copies: [0, 0] };
for (let s = 0; s < o.setups; s++) {
  const rng = new Rng(`${o.seed}/t4x/setup/${s}`);
  let targetIndex;
  let adversarialClass = fixed ? fixed[1] : undefined;
  if (fixed || o.pick === 'closest') {
    const base = wb.chooseSetup(train, test, { threatModel: 'single-class', budget: o.budget, ...(fixed ? { adversarialClass } : {}) }, rng);
    const tc = fixed ? fixed[0] : base.targetTrueClass;
    adversarialClass = fixed ? fixed[1] : base.adversarialClass;
    const cands = [];
    for (let i = 0; i < test.count; i++) if (test.labels[i] === tc) cands.push(i);
    if (o.pick === 'closest') {
      const m = brewing[0].model;
      const sc = cands.map((i) => ({ i, p: probs(m, test.image(i)) })).filter((c) => c.p.indexOf(Math.max(...c.p)) === tc);
      sc.sort((a, b) => b.p[adversarialClass] - a.p[adversarialClass]);
      // Not the single closest: the s-th closest, so setups differ.
      targetIndex = sc[Math.min(s, sc.length - 1)].i;
    } else targetIndex = cands[new Rng(`${o.seed}/t4x/target/${s}`).int(cands.length)];
  }
  const cfg = wb.parseWitchesBrewConfig({
    epsilon: o.eps / 255,
    budget: o.budget,
    steps: o.steps,
    restarts: o.restarts,
    lr: o.tau,
    augment: !!o.aug,
    augmentShift: o.shift,
    ensemble: o.ensemble,
    model: { architecture: o.arch, head: 'linear', options: modelOptions },
    ...(targetIndex !== undefined ? { targetIndex } : {}),
    ...(adversarialClass !== undefined ? { adversarialClass } : {}),
  });
  const t0 = performance.now();
  const res = await wb.craftWitchesBrew({ train, test, rng, model: brewing[0].model }, cfg, {
    brewingRecipe: brewRecipe,
    onProgress: (p) => {
      if (p.brew && (p.brew.step === 1 || p.brew.step % 50 === 0)) log(`setup ${s} restart ${p.brew.restart} step ${p.brew.step} loss ${p.brew.loss.toFixed(4)}`);
    },
  });
  const d = res.details;
  const brewSeconds = Math.round((performance.now() - t0) / 1000);
  const target = test.image(d.targetIndex);
  const adv = d.adversarialClass;
  const idx = res.poisonIndices;
  const poisonImages = res.poisonedTrain.subset(idx).images;
  const cleanImages = train.subset(idx).images;
  const labels = Int32Array.from(idx, (i) => train.labels[i]);
  const noise = await wb.craftRandomNoise({ train, test, rng }, wb.RandomNoiseConfigSchema.parse({ epsilon: o.eps / 255, budget: o.budget, targetIndex: d.targetIndex, adversarialClass: adv }));
  if (noise.poisonIndices.join() !== idx.join()) throw new Error('noise baseline chose other indices');
  // Sanity: the poisoned set differs from the clean one exactly at the poison indices, within ε.
  const per = train.imageSize;
  const isPoison = new Uint8Array(train.count);
  for (const i of idx) isPoison[i] = 1;
  let maxOther = 0;
  let maxPoison = 0;
  for (let i = 0; i < train.count; i++)
    for (let j = 0; j < per; j++) {
      const a = Math.abs(res.poisonedTrain.images[i * per + j] - train.images[i * per + j]);
      if (isPoison[i]) maxPoison = Math.max(maxPoison, a);
      else maxOther = Math.max(maxOther, a);
    }
  if (maxOther !== 0 || maxPoison > o.eps / 255 + 1e-6) throw new Error(`poisoned set wrong: max change outside poisons ${maxOther}, inside ${maxPoison}`);
  const transfer = others.map((m) => ({
    brewed: +matchLossOn(m.model, target, adv, poisonImages, labels).toFixed(4),
    clean: +matchLossOn(m.model, target, adv, cleanImages, labels).toFixed(4),
    noise: +matchLossOn(m.model, target, adv, noise.poisonedTrain.subset(idx).images, labels).toFixed(4),
    stats: { brewed: poisonStats(m.model, poisonImages, labels), clean: poisonStats(m.model, cleanImages, labels), noise: poisonStats(m.model, noise.poisonedTrain.subset(idx).images, labels) },
  }));
  const onBrewing = {
    brewed: +matchLossOn(brewing[0].model, target, adv, poisonImages, labels).toFixed(4),
    clean: +matchLossOn(brewing[0].model, target, adv, cleanImages, labels).toFixed(4),
  };
  const pBrew = probs(brewing[0].model, target);
  const rec = {
    tag: o.tag,
    setup: s,
    target: d.targetIndex,
    trueClass: d.targetTrueClass,
    adv,
    pAdvBrewingModel: +pBrew[adv].toFixed(4),
    loss: [+d.initialLoss.toFixed(4), +d.finalLoss.toFixed(4)],
    restartLosses: d.restartLosses.map((x) => +x.toFixed(4)),
    onBrewing,
    transfer,
    brewSeconds,
    attack: [],
    noise: [],
    clean: [],
    copies: [],
  };
  log(`setup ${s}: target #${d.targetIndex} ${d.targetTrueClass}→${adv}, loss ${rec.loss.join(' → ')}, transfer ${JSON.stringify(transfer)}`);
  for (let r = 0; r < o.retrain; r++) {
    const v = await victim(res.poisonedTrain, 1000 * s + r + 7, target, adv, idx);
    rec.attack.push(v);
    log(`setup ${s} attack victim ${r}: ${JSON.stringify(v)}`);
  }
  for (let r = 0; r < o.noise; r++) {
    const v = await victim(noise.poisonedTrain, 1000 * s + r + 7, target, adv, idx);
    rec.noise.push(v);
    log(`setup ${s} noise victim ${r}: ${JSON.stringify(v)}`);
  }
  for (let r = 0; r < o.clean; r++) {
    const v = await victim(train, 1000 * s + r + 7, target, adv, idx);
    rec.clean.push(v);
    log(`setup ${s} clean victim ${r}: ${JSON.stringify(v)}`);
  }
  if (o.copies > 0) {
    const images = train.images.slice();
    for (const i of idx) images.set(target, i * per);
    const copied = new train.constructor({ images, labels: train.labels.slice(), height: 28, width: 28, channels: 1, classNames: train.classNames, name: `${train.name}+target-copies` });
    for (let r = 0; r < o.copies; r++) {
      const v = await victim(copied, 1000 * s + r + 7, target, adv, idx);
      rec.copies.push(v);
      log(`setup ${s} target-copies victim ${r}: ${JSON.stringify(v)}`);
    }
  }
  for (const k of ['attack', 'noise', 'clean', 'copies']) {
    summary[k][0] += rec[k].filter((v) => v.pred === adv).length;
    summary[k][1] += rec[k].length;
  }
  const line = JSON.stringify(rec);
  console.log(line);
  if (o.log) appendFileSync(o.log, line + '\n');
}
const final = { tag: o.tag, options: o, summary, brewingAcc: brewing.map((b) => b.acc), numTensors: tf.memory().numTensors };
console.log(JSON.stringify(final));
if (o.log) appendFileSync(o.log, JSON.stringify(final) + '\n');
