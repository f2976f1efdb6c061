#!/usr/bin/env node
// Regenerates the tables of experiments/t1/RESULTS.md from the run folders of
// the T1 specs (metrics.json of each), so the numbers in the README are never
// typed by hand.
//   node experiments/t1/summarize.mjs runs/t1/<transfer run> runs/t1/<same-dataset run> [...]
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const dirs = process.argv.slice(2);
if (dirs.length === 0) {
  console.error('usage: node experiments/t1/summarize.mjs RUN_DIR [RUN_DIR...]');
  process.exit(2);
}
const pts = (x) => (x * 100).toFixed(1);
// Mean ± 95% t-interval (as src/eval/metrics.ts meanCI), for paired per-seed differences.
const T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228];
const ci = (v) => {
  const n = v.length;
  const mean = v.reduce((a, b) => a + b, 0) / n;
  if (n < 2) return { mean, halfWidth: NaN };
  const sd = Math.sqrt(v.reduce((a, x) => a + (x - mean) ** 2, 0) / (n - 1));
  return { mean, halfWidth: ((T975[n - 2] ?? 1.96) * sd) / Math.sqrt(n) };
};
const fmt = (c) => `${pts(c.mean)} ± ${Number.isNaN(c.halfWidth) ? '–' : pts(c.halfWidth)}`;
// Per-seed paired difference a − b of the poisoned accuracy drops of two attacks (same run, same ε).
const paired = (m, a, b, eps) => {
  const d = [];
  for (const ra of m.runs.filter((r) => r.attack === a && r.epsilon === eps)) {
    const rb = m.runs.find((r) => r.attack === b && r.epsilon === eps && r.seed === ra.seed);
    if (rb) d.push(ra.signedDrop - rb.signedDrop);
  }
  return d.length ? ci(d) : null;
};
const runs = dirs.map((d) => ({ dir: d, spec: JSON.parse(readFileSync(join(d, 'spec.json'), 'utf8')), m: JSON.parse(readFileSync(join(d, 'metrics.json'), 'utf8')) }));

const lines = [];
lines.push('| spec | mode | encoder (k-NN acc.) | downstream | clean acc. | attack | ε | seeds | poisoned acc. | drop, points (mean ± 95% CI) | feature-space drop (before inversion) |');
lines.push('|---|---|---|---|---|---|---|---|---|---|---|');
for (const { spec, m } of runs) {
  const ds = `${m.downstream.dataset}${m.downstream.classes ? ` [${m.downstream.classes.join(',')}]` : ''}, ${m.downstream.train}/${m.downstream.test}`;
  const enc = `${m.encoder.source} (${m.encoder.knnAccuracy != null ? pts(m.encoder.knnAccuracy) + '%' : '–'})`;
  for (const s of m.summary) {
    lines.push(
      `| ${spec.name} | ${s.mode} | ${enc} | ${ds} | ${pts(s.cleanAccuracy)}% | ${s.attack} | ${s.epsilon} | ${s.n} | ${pts(s.poisonedAccuracy.mean)}% | ${pts(s.drop.mean)} ± ${pts(s.drop.halfWidth)} | ${s.featureSpaceDrop ? `${pts(s.featureSpaceDrop.mean)} ± ${pts(s.featureSpaceDrop.halfWidth)}` : ''} |`,
    );
  }
}

// The paper's three qualitative findings, computed from the same numbers.
const find = (m, attack, eps) => m.summary.find((s) => s.attack === attack && s.epsilon === eps);
const findings = [];
for (const { spec, m } of runs) {
  for (const eps of [...new Set(m.summary.map((s) => s.epsilon))]) {
    const ft = ['ft-matching', 'ft-decoder'].map((a) => find(m, a, eps)).filter(Boolean).sort((a, b) => b.drop.mean - a.drop.mean)[0];
    const gin = find(m, 'gc-input', eps);
    if (ft && gin) {
      const d = paired(m, ft.attack, 'gc-input', eps);
      findings.push(`(1) ${spec.name} ε=${eps}: best FT (${ft.attack}) drop ${pts(ft.drop.mean)} ± ${pts(ft.drop.halfWidth)} vs input-space GC ${pts(gin.drop.mean)} ± ${pts(gin.drop.halfWidth)} points${d ? `; paired FT − GC-input ${fmt(d)}` : ''} → ${ft.drop.mean - ft.drop.halfWidth > gin.drop.mean + gin.drop.halfWidth ? 'FT larger (CIs apart)' : ft.drop.mean > gin.drop.mean ? 'FT larger on average, CIs overlap' : 'FT not larger'}`);
    }
    for (const a of ['ft-decoder', 'ft-matching']) {
      const s = find(m, a, eps);
      if (!s?.featureSpaceDrop) continue;
      // Per seed: accuracy after inversion − accuracy on the feature-space poisons (same ζ).
      const gap = ci(m.runs.filter((r) => r.attack === a && r.epsilon === eps && r.inversionGap !== undefined).map((r) => r.inversionGap));
      findings.push(`(3) ${spec.name} ε=${eps} ${a}: feature-space drop ${pts(s.featureSpaceDrop.mean)} vs after inversion ${pts(s.drop.mean)} points → inversion gap ${fmt(gap)} points (paired over seeds)${gap.mean - gap.halfWidth > 0 ? ', CI above 0' : ''}`);
    }
  }
}
// (2) pairs a transfer run with the same-dataset run on the same downstream
// dataset (fashion-mnist-mini with mini, fashion-mnist with fashion-mnist).
for (const same of runs.filter((r) => r.m.mode === 'same-dataset')) {
  const transfer = runs.find((r) => r.m.mode === 'transfer' && r.m.cleanProbe.victim === 'exact' && r.m.downstream.dataset === same.m.downstream.dataset);
  if (!transfer) continue;
  let larger = 0;
  let apart = 0;
  let pairs = 0;
  for (const s of same.m.summary) {
    const t = find(transfer.m, s.attack, s.epsilon);
    if (!t) continue;
    pairs++;
    if (t.drop.mean > s.drop.mean + 0.0005) larger++;
    if (t.drop.mean - t.drop.halfWidth > s.drop.mean + s.drop.halfWidth) apart++;
    findings.push(`(2) ${same.m.downstream.dataset} ${s.attack} ε=${s.epsilon}: transfer drop ${pts(t.drop.mean)} ± ${pts(t.drop.halfWidth)} vs same-dataset ${pts(s.drop.mean)} ± ${pts(s.drop.halfWidth)} points → ${t.drop.mean - t.drop.halfWidth > s.drop.mean + s.drop.halfWidth ? 'transfer more vulnerable (CIs apart)' : t.drop.mean > s.drop.mean + 0.0005 ? 'transfer larger on average, CIs overlap' : 'transfer not more vulnerable'}`);
  }
  findings.push(`(2) ${same.m.downstream.dataset}: transfer drop larger on average in ${larger}/${pairs} (attack, ε) pairs, with CIs apart in ${apart}/${pairs}`);
}

// The GC target the attacker chose (shared by gc-feature, ft-* and gc-input of a
// run: one plan per seed and ε), and its bias excess against the poison count.
const targets = [];
for (const { spec, m } of runs) {
  for (const eps of [...new Set(m.runs.map((r) => r.epsilon))]) {
    const rows = m.runs.filter((r) => r.attack === 'gc-feature' && r.epsilon === eps);
    if (!rows.length || rows[0].facts.targetBiasExcess === undefined) continue;
    const f = (r) => `radius ${r.facts.radius} (target train acc. ${pts(r.facts.targetTrainAccuracy)}%, bias excess ${Math.round(r.facts.targetBiasExcess)} vs P = ${r.facts.poisonCount}, GC residual ${r.facts.gcRelativeResidual.toFixed(3)})`;
    targets.push(`${spec.name} ε=${eps}: clean train acc. ${pts(rows[0].facts.cleanTrainAccuracy)}%; seeds → ${rows.map(f).join('; ')}`);
  }
}
console.log(lines.join('\n'));
console.log('\nFindings (computed):\n');
for (const f of findings) console.log(`- ${f}`);
if (targets.length) {
  console.log('\nGC targets chosen (per seed):\n');
  for (const t of targets) console.log(`- ${t}`);
}
console.log(`\nWall time per spec: ${runs.map(({ spec, m }) => `${spec.name} ${Math.round(m.wallSeconds)} s`).join(', ')}`);
