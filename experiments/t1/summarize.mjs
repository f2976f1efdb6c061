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
    if (ft && gin) findings.push(`(1) ${spec.name} ε=${eps}: best FT (${ft.attack}) drop ${pts(ft.drop.mean)} ± ${pts(ft.drop.halfWidth)} vs input-space GC ${pts(gin.drop.mean)} ± ${pts(gin.drop.halfWidth)} points → ${ft.drop.mean - ft.drop.halfWidth > gin.drop.mean + gin.drop.halfWidth ? 'FT larger (CIs apart)' : ft.drop.mean > gin.drop.mean ? 'FT larger on average, CIs overlap' : 'FT not larger'}`);
    for (const a of ['ft-decoder', 'ft-matching']) {
      const s = find(m, a, eps);
      if (s?.featureSpaceDrop) findings.push(`(3) ${spec.name} ε=${eps} ${a}: feature-space drop ${pts(s.featureSpaceDrop.mean)} vs after inversion ${pts(s.drop.mean)} points → inversion gap ${pts(s.featureSpaceDrop.mean - s.drop.mean)} points`);
    }
  }
}
const transfer = runs.find((r) => r.m.mode === 'transfer' && r.m.cleanProbe.victim === 'exact');
const same = runs.find((r) => r.m.mode === 'same-dataset');
if (transfer && same) {
  for (const s of same.m.summary) {
    const t = find(transfer.m, s.attack, s.epsilon);
    if (t) findings.push(`(2) ${s.attack} ε=${s.epsilon}: transfer drop ${pts(t.drop.mean)} ± ${pts(t.drop.halfWidth)} vs same-dataset ${pts(s.drop.mean)} ± ${pts(s.drop.halfWidth)} points → ${t.drop.mean - t.drop.halfWidth > s.drop.mean + s.drop.halfWidth ? 'transfer more vulnerable (CIs apart)' : t.drop.mean > s.drop.mean + 0.0005 ? 'transfer larger on average, CIs overlap' : 'transfer not more vulnerable'}`);
  }
}
console.log(lines.join('\n'));
console.log('\nFindings (computed):\n');
for (const f of findings) console.log(`- ${f}`);
console.log(`\nWall time per spec: ${runs.map(({ spec, m }) => `${spec.name} ${Math.round(m.wallSeconds)} s`).join(', ')}`);
