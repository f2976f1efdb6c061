import { isT1Metrics, t1ContractJson, type T1Metrics } from '../experiments/t1Runner.js';
import { out, printJson, table } from './output.js';

export { isT1Metrics };

const pct = (x: number) => (Number.isFinite(x) ? (x * 100).toFixed(2) : '-');

/** Prints a T1 run: the `--json` contract line, or a table of mean drops per attack and budget. */
export function reportT1(m: T1Metrics, runDir: string, json: boolean | undefined): void {
  if (json) {
    printJson(t1ContractJson(m));
    return;
  }
  out(`T1 ${m.mode}: clean accuracy ${pct(m.cleanProbe.accuracy)}% (encoder ${m.encoder.source}, ${m.downstream.dataset}${m.downstream.classes ? ` classes [${m.downstream.classes.join(',')}]` : ''})`);
  out(
    table(
      ['attack', 'ε', 'seeds', 'poisoned acc %', 'drop (points, mean ± 95% CI)', 'feature-space drop'],
      m.summary.map((s) => [
        s.attack,
        s.epsilon,
        s.n,
        pct(s.poisonedAccuracy.mean),
        `${pct(s.drop.mean)} ± ${pct(s.drop.halfWidth)}`,
        s.featureSpaceDrop ? `${pct(s.featureSpaceDrop.mean)} ± ${pct(s.featureSpaceDrop.halfWidth)}` : '',
      ]),
    ),
  );
  out(`run recorded in ${runDir} (${m.wallSeconds.toFixed(0)} s)`);
}
