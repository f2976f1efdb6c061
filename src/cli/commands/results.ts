import type { Command } from 'commander';
import {
  aggregate,
  applyFilters,
  axesOf,
  defaultMetrics,
  fieldValue,
  formatAggregate,
  formatNumber,
  loadResults,
  parseFilter,
  toCsv,
} from '../../experiments/resultsQuery.js';
import { out, printJson, table } from '../output.js';

interface ResultsFlags {
  store: string;
  sweep?: string;
  status?: string;
  where: string[];
  groupBy?: string;
  aggregate?: boolean;
  metric?: string;
  json?: boolean;
  csv?: boolean;
  rescan?: boolean;
}

const list = (s: string | undefined) => (s ? s.split(',').map((x) => x.trim()).filter(Boolean) : []);

export function registerResults(program: Command): void {
  program
    .command('results')
    .description('query the results index of a store: filter, group, aggregate (mean ± 95% CI); table, --json or --csv')
    .requiredOption('--store <dir>', 'store directory')
    .option('--sweep <id|name>', 'only the runs of this sweep')
    .option('--status <status>', 'only runs with this status (pending, running, completed, failed)')
    .option('--where <filter>', 'keep runs matching key=value, key!=value, key>x, key<=x … (repeatable; keys: axes, metrics, spec paths)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--group-by <keys>', 'group by these comma-separated keys and aggregate metrics over each group')
    .option('--aggregate', 'group by every sweep axis except seed (mean ± 95% CI over seeds)')
    .option('--metric <keys>', 'comma-separated metrics to show (default: the headline ones)')
    .option('--rescan', 'index every run folder in the store first (also folders written by hemlock train --out)')
    .option('--json', 'print the runs (or groups) as one JSON array on the last line of stdout')
    .option('--csv', 'print CSV')
    .action((flags: ResultsFlags) => {
      const filters = flags.where.map(parseFilter);
      const all = loadResults(flags.store, {
        ...(flags.sweep ? { sweep: flags.sweep } : {}),
        ...(flags.status ? { status: flags.status } : {}),
        ...(flags.rescan ? { rescan: true } : {}),
      });
      const runs = applyFilters(all, filters);
      const axes = axesOf(runs);
      const groupBy = flags.groupBy ? list(flags.groupBy) : flags.aggregate ? axes.filter((a) => a !== 'seed') : null;
      const metrics = flags.metric ? list(flags.metric) : defaultMetrics(runs);

      if (groupBy) {
        const groups = aggregate(runs, groupBy, flags.metric ? metrics : undefined);
        if (flags.json) {
          printJson(groups.map((g) => ({ ...g, metrics: Object.fromEntries(Object.entries(g.metrics).map(([k, a]) => [k, { mean: a.mean, halfWidth: a.halfWidth, n: a.n }])) })));
          return;
        }
        if (flags.csv) {
          const headers = [...groupBy, 'n', ...metrics.flatMap((m) => [`${m}.mean`, `${m}.ci95`, `${m}.n`])];
          out(toCsv(headers, groups.map((g) => [...groupBy.map((k) => g.group[k]), g.n, ...metrics.flatMap((m) => [g.metrics[m]?.mean, g.metrics[m]?.halfWidth, g.metrics[m]?.n])])).trimEnd());
          return;
        }
        out(table([...groupBy, 'n', ...metrics.map((m) => `${m} (mean ± 95% CI)`)], groups.map((g) => [...groupBy.map((k) => formatNumber(g.group[k])), g.n, ...metrics.map((m) => formatAggregate(g.metrics[m]))])));
        return;
      }

      if (flags.json) {
        printJson(runs.map((r) => ({ id: r.id, status: r.status, name: r.name, params: r.params, metrics: r.metrics, runDir: r.runDir, error: r.error, worker: r.worker, startedAt: r.startedAt, endedAt: r.endedAt, sweeps: r.sweeps })));
        return;
      }
      if (flags.csv) {
        const allMetrics = flags.metric ? metrics : [...new Set(runs.flatMap((r) => Object.keys(r.metrics)))];
        out(toCsv(['id', 'name', 'status', ...axes, ...allMetrics, 'runDir', 'error'], runs.map((r) => [r.id, r.name, r.status, ...axes.map((a) => r.params[a]), ...allMetrics.map((m) => r.metrics[m]), r.runDir, r.error])).trimEnd());
        return;
      }
      const errors = runs.some((r) => r.status === 'failed' && r.error);
      const clip = (e: string | null) => (e && e.length > 70 ? `${e.slice(0, 67)}...` : (e ?? ''));
      out(
        table(
          ['id', 'status', ...axes, ...metrics, ...(errors ? ['error'] : [])],
          runs.map((r) => [r.id, r.status, ...axes.map((a) => formatNumber(r.params[a])), ...metrics.map((m) => formatNumber(fieldValue(r, m))), ...(errors ? [r.status === 'failed' ? clip(r.error) : ''] : [])]),
        ),
      );
      const counts = runs.reduce<Record<string, number>>((c, r) => ((c[r.status] = (c[r.status] ?? 0) + 1), c), {});
      out(`\n${runs.length} runs: ${Object.entries(counts).map(([s, n]) => `${n} ${s}`).join(', ') || 'none'}`);
    });
}
