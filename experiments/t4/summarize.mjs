#!/usr/bin/env node
// Summarises T4 run folders (complete or still running) into the RESULTS.md table:
//   node experiments/t4/summarize.mjs runs/t4/<run-dir> [...]
// Reads artifacts/setup-XX/setup.json of each run, so a run that is still going
// (or was stopped) is summarised over the trials it has finished.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { wilsonInterval } from '../../dist/eval/metrics.js';

const pct = (x) => `${(100 * x).toFixed(1)}%`;

function summarize(trials) {
  const n = trials.length;
  const k = trials.filter((t) => t.success).length;
  const [lo, hi] = wilsonInterval(k, n);
  const va = n ? trials.reduce((a, t) => a + t.validationAccuracy, 0) / n : NaN;
  const pAdv = n ? trials.reduce((a, t) => a + t.adversarialProbability, 0) / n : NaN;
  // Victims' accuracy on the poisons (recorded since the poison-fit diagnostic exists).
  const fits = trials.filter((t) => typeof t.poisonAccuracy === 'number');
  const fit = fits.length ? fits.reduce((a, t) => a + t.poisonAccuracy, 0) / fits.length : NaN;
  return { n, k, lo, hi, va, pAdv, fit };
}

/** Mean p(adv) of attack minus baseline over victims trained with the same seed (retraining r of a setup pairs with baseline r). */
function pairedDelta(setups) {
  const d = [];
  for (const s of setups) for (const b of s.baselineTrials ?? []) {
    const a = (s.attackTrials ?? []).find((t) => t.retrain === b.retrain);
    if (a) d.push(a.adversarialProbability - b.adversarialProbability);
  }
  return d.length ? { mean: d.reduce((x, y) => x + y, 0) / d.length, n: d.length } : null;
}

const FASHION = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];
const rows = [];
const detail = [];
for (const dir of process.argv.slice(2)) {
  const spec = JSON.parse(readFileSync(join(dir, 'spec.json'), 'utf8'));
  const art = join(dir, 'artifacts');
  const setups = existsSync(art)
    ? readdirSync(art)
        .filter((d) => d.startsWith('setup-') && existsSync(join(art, d, 'setup.json'))) // setups still brewing have none yet
        .sort()
        .map((d) => JSON.parse(readFileSync(join(art, d, 'setup.json'), 'utf8')))
    : [];
  const o = spec.attack.options;
  const label = `${spec.attack.name} ε=${Math.round(o.epsilon * 255)}/255${o.augment ? '' : ', no diff. aug.'}${o.ensemble > 1 ? `, ensemble ${o.ensemble}` : ''}`;
  const losses = setups.map((s) => `${s.details.initialLoss?.toFixed(3)}→${s.details.finalLoss?.toFixed(3)}`);
  for (const s of setups) {
    const name = (c) => (/fashion/.test(spec.data.dataset) ? FASHION[c] : String(c));
    const cell = (ts) => (ts?.length ? `${ts.filter((t) => t.success).length}/${ts.length} (→ ${ts.map((t) => name(t.predicted)).join(', ')})` : '–');
    detail.push(`| ${label} | ${s.setup} | #${s.targetIndex} ${name(s.targetTrueClass)} → ${name(s.adversarialClass)} | ${s.details.initialLoss?.toFixed(3)} → ${s.details.finalLoss?.toFixed(3)} | ${cell(s.attackTrials)} | ${cell(s.baselineTrials)} |`);
  }
  const recipe = `${spec.train.optimizer.kind} ${spec.train.optimizer.lr}, ${spec.train.epochs} ep.`;
  for (const [name, key] of [[label, 'attackTrials'], ['random ℓ∞ noise, same poisons', 'baselineTrials']]) {
    const trials = setups.flatMap((s) => s[key] ?? []);
    if (!trials.length) continue;
    const s = summarize(trials);
    const perSetup = setups.map((x) => `${(x[key] ?? []).filter((t) => t.success).length}/${(x[key] ?? []).length}`).join(' ');
    const delta = key === 'attackTrials' ? pairedDelta(setups) : null;
    rows.push({ name, recipe, setups: setups.filter((x) => (x[key] ?? []).length).length, ...s, delta, perSetup, losses: key === 'attackTrials' ? losses.join(', ') : '', run: dir });
  }
}
const num = (x, f = 3) => (Number.isNaN(x) ? '–' : x.toFixed(f));
console.log('| row | victims | setups | trials | target success | Wilson 95% CI | mean p(adv) | paired Δp(adv) vs noise | victims fit the poisons | victims\' val. acc. | per setup |');
console.log('|---|---|---|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  const delta = r.delta ? `${r.delta.mean >= 0 ? '+' : ''}${r.delta.mean.toFixed(3)} (${r.delta.n} pairs)` : '–';
  console.log(`| ${r.name} | ${r.recipe} | ${r.setups} | ${r.n} | ${pct(r.k / r.n)} (${r.k}/${r.n}) | ${pct(r.lo)}–${pct(r.hi)} | ${num(r.pAdv)} | ${delta} | ${Number.isNaN(r.fit) ? '–' : pct(r.fit)} | ${pct(r.va)} | ${r.perSetup} |`);
}
console.log('\n| row | setup | target → adversarial class | matching loss | attack: successes (victims predict) | random noise |');
console.log('|---|---|---|---|---|---|');
for (const d of detail) console.log(d);
