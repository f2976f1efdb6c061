#!/usr/bin/env node
// Why GC's drops are what they are (experiments/t1/RESULTS.md, "Audit"): for a
// frozen encoder and a downstream set, walks the GradPC radius and prints, per
// radius, the target's test accuracy, its bias excess Σ_c max(0, g_b[c])
// against the poison count P (a target with excess > P is out of reach of any
// P poisons), the GC residual in feature space (per-dimension clean range,
// 1,000 Adam steps, 'need' labels) and the exact victim's drop on clean ∪ ζ;
// then the same with the target's bias re-fitted on the clean data (which
// shows how much of GradPC's damage is a shift of the class priors), and with
// the bias moved only as far as the budget allows (a budget-aware target).
//   HEMLOCK_THREADS=1 node experiments/t1/feasibility.mjs --encoder DIR [--dataset fashion-mnist-mini]
//       [--classes 5,6,7,8,9] [--train 2000] [--eps 0.1] [--radii 0.002,0.005,0.01,0.02]
// Imports the compiled library (dist/; `npm run build` first).
import { parseArgs } from 'node:util';
const { values: a } = parseArgs({
  options: {
    encoder: { type: 'string' },
    dataset: { type: 'string', default: 'fashion-mnist-mini' },
    classes: { type: 'string' },
    train: { type: 'string', default: '2000' },
    eps: { type: 'string', default: '0.1' },
    l2: { type: 'string', default: '1e-5' },
    radii: { type: 'string', default: '0.002,0.003,0.004,0.005,0.0065,0.008,0.01,0.02,0.04' },
    dist: { type: 'string', default: new URL('../../dist', import.meta.url).pathname },
  },
});
if (!a.encoder) {
  console.error('usage: node experiments/t1/feasibility.mjs --encoder DIR [--dataset NAME] [--classes a,b] [--train N] [--eps E] [--radii r1,r2]');
  process.exit(2);
}
const D = a.dist;
const { initBackend } = await import(`${D}/engine/backend.js`);
const { Rng } = await import(`${D}/engine/rng.js`);
const { loadExperimentData } = await import(`${D}/experiments/data.js`);
const { loadEncoder } = await import(`${D}/experiments/sslRunner.js`);
const F = await import(`${D}/attacks/t1/features.js`);
const LP = await import(`${D}/attacks/t1/linearProbe.js`);
const { gradPC } = await import(`${D}/attacks/gradPC.js`);
const GC = await import(`${D}/attacks/gradientCanceling.js`);
await initBackend();
const classes = a.classes ? a.classes.split(',').map(Number) : undefined;
const dd = await loadExperimentData({ dataset: a.dataset, trainLimit: Number(a.train), ...(classes ? { classes } : {}) }, 0);
const loaded = await loadEncoder(a.encoder, dd, 0);
const enc = loaded.encoder;
const clean = F.featureSet(F.extractFeatures(enc, dd.train), dd.train.labels, enc.featureDim);
const test = F.featureSet(F.extractFeatures(enc, dd.test), dd.test.labels, enc.featureDim);
const K = dd.train.numClasses;
const l2 = Number(a.l2);
const eps = Number(a.eps);
const P = Math.max(1, Math.round(eps * clean.count));
const victim = (f) => LP.trainLinearProbe(f, K, { l2, maxIter: 500 }).head;
const c = victim(clean);
const cleanAcc = LP.headAccuracy(c, test);
const norm = GC.headNorm(c);
const bare = new LP.ProbeObjective(clean, K, 0);
// The bias that minimises the clean loss for fixed W (gradient descent on the K bias entries).
const refitBias = (h) => {
  const th = LP.flattenHead(h);
  const n = h.dim * K;
  for (let it = 0; it < 300; it++) {
    const { grad } = bare.evaluate(th);
    for (let k = 0; k < K; k++) th[n + k] -= 2 * grad[n + k];
  }
  return LP.unflattenHead(th, h.dim, K);
};
const pct = (x) => (100 * x).toFixed(1);
console.log(`${a.dataset}${classes ? ` [${classes}]` : ''}: ${clean.count} train / ${test.count} test, encoder ${a.encoder}`);
console.log(`clean victim: test ${pct(cleanAcc)}%, ‖ω_c‖ = ${norm.toFixed(1)}; ε = ${eps}, P = ${P}\n`);
console.log('| radius (× ‖ω_c‖) | target | target test acc. | bias excess (P = ' + P + ') | GC residual | victim drop, points |');
console.log('|---|---|---|---|---|---|');
for (const rel of a.radii.split(',').map(Number)) {
  const g = gradPC(clean, K, c, { radius: rel * norm }, new Rng(0).fork('gradpc'));
  const refit = refitBias(g.target);
  // Budget-aware variant (not in the references): keep GradPC's W, and move the
  // bias from the re-fitted one towards GradPC's only as far as the excess stays ≤ 0.95 P.
  const mix = (t) => ({ ...g.target, b: Float32Array.from(g.target.b, (v, k) => refit.b[k] + t * (v - refit.b[k])) });
  const excessOf = (h) => GC.biasExcess(GC.gcProblem(clean, K, h, l2, clean.count + P));
  let lo = 0;
  let hi = 1;
  if (excessOf(mix(1)) <= 0.95 * P) lo = 1;
  else for (let i = 0; i < 20; i++) ((m) => (excessOf(mix(m)) <= 0.95 * P ? (lo = m) : (hi = m)))((lo + hi) / 2);
  for (const [kind, target] of [['GradPC', g.target], ['GradPC, bias re-fitted', refit], [`GradPC, bias within budget (t = ${lo.toFixed(2)})`, mix(lo)]]) {
    const problem = GC.gcProblem(clean, K, target, l2, clean.count + P);
    const { sourceIndices, labels } = GC.choosePoisonStarts(clean.labels, K, P, 'need', problem.gb, new Rng(0));
    const r = GC.gradientCancelFeatures(problem, F.gatherRows(clean.z, clean.dim, sourceIndices), labels, F.featureRange(clean), { steps: 1000 });
    const v = victim(LP.concatFeatures(clean, F.featureSet(r.zeta, labels, clean.dim)));
    console.log(`| ${rel} | ${kind} | ${pct(LP.headAccuracy(target, test))}% | ${Math.round(GC.biasExcess(problem))} | ${r.relativeResidual.toFixed(3)} | ${pct(cleanAcc - LP.headAccuracy(v, test))} |`);
  }
}
bare.dispose();
loaded.dispose();
