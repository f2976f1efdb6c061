#!/usr/bin/env node
// Tables of the exploration runs (explore.mjs writes one JSON line per setup to --log):
//   node experiments/t4/explore-summary.mjs runs/t4x/explore.jsonl
import { readFileSync } from 'node:fs';

const lines = readFileSync(process.argv[2], 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
const byTag = new Map();
for (const l of lines) {
  if (l.summary) continue;
  if (!byTag.has(l.tag)) byTag.set(l.tag, []);
  byTag.get(l.tag).push(l);
}
const mean = (a) => (a.length ? a.reduce((x, y) => x + y, 0) / a.length : NaN);
const f = (x, d = 3) => (Number.isNaN(x) ? '–' : x.toFixed(d));
const pct = (x) => (Number.isNaN(x) ? '–' : `${(100 * x).toFixed(0)}%`);
console.log('| run | setups | attack: successes | noise: successes | mean p(adv) attack / noise | paired Δp(adv) | victims fit poisons (attack / noise) | victims\' train / val. acc. | matching loss (mean initial → final) | target copies: successes, mean p(adv), victims fit the copies, train acc. |');
console.log('|---|---|---|---|---|---|---|---|---|---|');
for (const [tag, recs] of byTag) {
  const att = recs.flatMap((r) => r.attack);
  const noi = recs.flatMap((r) => r.noise);
  const succ = (vs, r) => vs.filter((v) => v.pred === r.adv).length;
  const aS = recs.reduce((a, r) => a + succ(r.attack, r), 0);
  const nS = recs.reduce((a, r) => a + succ(r.noise, r), 0);
  const deltas = recs.flatMap((r) => r.noise.map((n, i) => (r.attack[i] ? r.attack[i].pAdv - n.pAdv : NaN)).filter((x) => !Number.isNaN(x)));
  const fitA = mean(att.filter((v) => v.poisonFit !== undefined).map((v) => v.poisonFit));
  const fitN = mean(noi.filter((v) => v.poisonFit !== undefined).map((v) => v.poisonFit));
  const tr = mean(att.filter((v) => v.trainAcc !== undefined).map((v) => v.trainAcc));
  const cop = recs.flatMap((r) => (r.copies ?? []).map((v) => ({ ...v, ok: v.pred === r.adv })));
  const copCell = cop.length
    ? `${cop.filter((v) => v.ok).length}/${cop.length}, p(adv) ${f(mean(cop.map((v) => v.pAdv)))}, copies fitted ${pct(mean(cop.map((v) => v.poisonFit)))}, train ${pct(mean(cop.map((v) => v.trainAcc)))}`
    : '–';
  console.log(
    `| ${tag} | ${recs.length} | ${aS}/${att.length} | ${nS}/${noi.length} | ${f(mean(att.map((v) => v.pAdv)))} / ${f(mean(noi.map((v) => v.pAdv)))} | ${deltas.length ? `${mean(deltas) >= 0 ? '+' : ''}${f(mean(deltas))} (${deltas.length})` : '–'} | ${pct(fitA)} / ${pct(fitN)} | ${pct(tr)} / ${pct(mean(att.map((v) => v.acc)))} | ${f(mean(recs.map((r) => r.loss[0])))} → ${f(mean(recs.map((r) => r.loss[1])))}${att.length ? '' : ' (no brew)'} | ${copCell} |`,
  );
}
