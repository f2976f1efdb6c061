import { meanCI } from '../eval/metrics.js';
import { flattenMetrics } from '../experiments/resultsDb.js';

/**
 * Vega-Lite specs for reports, each self-contained (data inline). The
 * builders take plain rows so any experiment kind can use them; `autoPlots`
 * picks the ones a set of runs supports.
 */

export type VegaLiteSpec = Record<string, unknown>;

export interface ReportPlot {
  title: string;
  caption?: string;
  /** A complete Vega-Lite spec with inline data. */
  spec: VegaLiteSpec;
}

export interface CiPoint {
  x: number | string;
  series: string;
  mean: number;
  lo: number;
  hi: number;
  n: number;
}

const WIDTH = 380;
const HEIGHT = 240;

/** Mean and 95% CI (meanCI: t-interval over runs); the band collapses to the mean when n < 2, and is clipped to [0,1] for rates. */
export function ciPoint(x: number | string, series: string, values: number[], rate = false): CiPoint {
  const ci = meanCI(values);
  const h = Number.isFinite(ci.halfWidth) ? ci.halfWidth : 0;
  const clip = (v: number) => (rate ? Math.min(1, Math.max(0, v)) : v);
  return { x, series, mean: ci.mean, lo: clip(ci.mean - h), hi: clip(ci.mean + h), n: ci.n };
}

const RATE_NAME = /accuracy|rate|asr|success|auroc|tpr|fpr|precision|recall/i;

/** A metric whose name says it is a rate and whose values all lie in [0,1]: its bands are clipped to [0,1]. */
export function isRate(metric: string, values: number[]): boolean {
  return RATE_NAME.test(metric) && values.every((v) => v >= 0 && v <= 1);
}

/** A metric against a numeric axis (e.g. the poison budget): mean line with points and a 95% CI band per series. */
export function metricVsAxisPlot(opts: { metric: string; axis: string; points: CiPoint[]; title?: string; logX?: boolean }): ReportPlot {
  const multi = new Set(opts.points.map((p) => p.series)).size > 1;
  const color = multi ? { color: { field: 'series', type: 'nominal', title: null, legend: { orient: 'bottom', direction: 'vertical', labelLimit: 400 } } } : {};
  const x = { field: 'x', type: 'quantitative', title: opts.axis, ...(opts.logX ? { scale: { type: 'log' } } : {}) };
  const title = opts.title ?? `${opts.metric} vs ${opts.axis}`;
  return {
    title,
    caption: `Mean over runs (seeds) with a 95% confidence band (t-interval); ${opts.points.length} points.`,
    spec: {
      title,
      width: WIDTH,
      height: HEIGHT,
      data: { values: opts.points },
      layer: [
        { mark: { type: 'area', opacity: 0.2 }, encoding: { x, y: { field: 'lo', type: 'quantitative', title: opts.metric, scale: { zero: false } }, y2: { field: 'hi' }, ...color } },
        {
          mark: { type: 'line', point: true },
          encoding: {
            x,
            y: { field: 'mean', type: 'quantitative', title: opts.metric },
            ...color,
            tooltip: [
              { field: 'series', type: 'nominal' },
              { field: 'x', title: opts.axis },
              { field: 'mean', format: '.4f' },
              { field: 'lo', format: '.4f', title: 'CI low' },
              { field: 'hi', format: '.4f', title: 'CI high' },
              { field: 'n' },
            ],
          },
        },
      ],
    },
  };
}

/** A metric per category (when no axis is numeric): bars with 95% CI whiskers. */
export function metricBarPlot(opts: { metric: string; axis: string; points: CiPoint[] }): ReportPlot {
  const x = { field: 'x', type: 'nominal', title: opts.axis, sort: null };
  const title = `${opts.metric} by ${opts.axis}`;
  return {
    title,
    caption: 'Mean over runs (seeds) with 95% confidence intervals.',
    spec: {
      title,
      width: WIDTH,
      height: HEIGHT,
      data: { values: opts.points },
      layer: [
        { mark: { type: 'bar', opacity: 0.8 }, encoding: { x, y: { field: 'mean', type: 'quantitative', title: opts.metric }, tooltip: [{ field: 'x' }, { field: 'mean', format: '.4f' }, { field: 'n' }] } },
        { mark: { type: 'rule' }, encoding: { x, y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' } } },
      ],
    },
  };
}

export interface TradeOffPoint {
  label: string;
  clean: number;
  cleanLo: number;
  cleanHi: number;
  attack: number;
  attackLo: number;
  attackHi: number;
  n: number;
}

/** Clean accuracy against attack success, one point per configuration, with 95% CI whiskers both ways. */
export function tradeOffPlot(opts: { cleanMetric: string; attackMetric: string; points: TradeOffPoint[] }): ReportPlot {
  const many = opts.points.length > 12;
  const color = many ? {} : { color: { field: 'label', type: 'nominal', title: null, legend: { orient: 'bottom', direction: 'vertical', labelLimit: 400 } } };
  const x = { field: 'attack', type: 'quantitative', title: opts.attackMetric, scale: { domain: [0, 1] } };
  const y = { field: 'clean', type: 'quantitative', title: opts.cleanMetric, scale: { zero: false } };
  const title = `${opts.cleanMetric} vs ${opts.attackMetric}`;
  return {
    title,
    caption: 'The trade-off: each point is one configuration (mean over seeds, 95% CI whiskers). Up and right = effective and stealthy.',
    spec: {
      title,
      width: WIDTH,
      height: HEIGHT,
      data: { values: opts.points },
      layer: [
        { mark: { type: 'rule', opacity: 0.6 }, encoding: { x: { field: 'attackLo', type: 'quantitative' }, x2: { field: 'attackHi' }, y, ...color } },
        { mark: { type: 'rule', opacity: 0.6 }, encoding: { x, y: { field: 'cleanLo', type: 'quantitative' }, y2: { field: 'cleanHi' }, ...color } },
        {
          mark: { type: 'point', filled: true, size: 70 },
          encoding: { x, y, ...color, tooltip: [{ field: 'label' }, { field: 'clean', format: '.4f' }, { field: 'attack', format: '.4f' }, { field: 'n' }] },
        },
      ],
    },
  };
}

export interface RocCurve {
  label: string;
  fpr: number[];
  tpr: number[];
  auroc?: number;
}

/** ROC curves of detectors, with the chance diagonal. */
export function rocPlot(curves: RocCurve[]): ReportPlot {
  const values = curves.flatMap((c) => {
    const name = c.auroc !== undefined && Number.isFinite(c.auroc) ? `${c.label} (AUROC ${c.auroc.toFixed(3)})` : c.label;
    return c.fpr.map((f, i) => ({ curve: name, fpr: f, tpr: c.tpr[i], i }));
  });
  return {
    title: 'ROC of detectors',
    caption: 'True-positive rate (poisons flagged) against false-positive rate (clean samples flagged); the dashed line is chance.',
    spec: {
      title: 'ROC',
      width: 300,
      height: 300,
      layer: [
        {
          data: { values: [{ fpr: 0, tpr: 0 }, { fpr: 1, tpr: 1 }] },
          mark: { type: 'line', strokeDash: [4, 4], color: '#999' },
          encoding: { x: { field: 'fpr', type: 'quantitative' }, y: { field: 'tpr', type: 'quantitative' } },
        },
        {
          data: { values },
          mark: { type: 'line' },
          encoding: {
            x: { field: 'fpr', type: 'quantitative', title: 'false-positive rate', scale: { domain: [0, 1] } },
            y: { field: 'tpr', type: 'quantitative', title: 'true-positive rate', scale: { domain: [0, 1] } },
            color: { field: 'curve', type: 'nominal', title: null, legend: { orient: 'bottom', direction: 'vertical', labelLimit: 400 } },
            order: { field: 'i', type: 'quantitative' },
          },
        },
      ],
    },
  };
}

/** Per-epoch training curves of one run (metrics.history). */
export function historyPlot(history: Record<string, unknown>[], keys: string[], title: string): ReportPlot {
  const values = history.flatMap((h, i) =>
    keys.filter((k) => typeof h[k] === 'number' && Number.isFinite(h[k])).map((k) => ({ epoch: typeof h.epoch === 'number' ? h.epoch : i + 1, metric: k, value: h[k] })),
  );
  return {
    title,
    spec: {
      title,
      width: WIDTH,
      height: 200,
      data: { values },
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'epoch', type: 'quantitative', axis: { tickMinStep: 1 } },
        y: { field: 'value', type: 'quantitative', scale: { zero: false } },
        color: { field: 'metric', type: 'nominal' },
      },
    },
  };
}

/** A bar per class (e.g. per-class test accuracy). */
export function perClassPlot(classNames: string[], values: number[], metric: string): ReportPlot {
  const title = `${metric} per class`;
  return {
    title,
    spec: {
      title,
      width: WIDTH,
      height: 200,
      data: { values: classNames.map((c, i) => ({ class: c, value: values[i] })) },
      mark: 'bar',
      encoding: { x: { field: 'class', type: 'nominal', sort: null }, y: { field: 'value', type: 'quantitative', title: metric, scale: { domain: [0, 1] } } },
    },
  };
}

/** A confusion matrix heatmap (rows: true class, columns: predicted). */
export function confusionPlot(classNames: string[], confusion: number[][]): ReportPlot {
  const values = confusion.flatMap((row, t) => row.map((count, p) => ({ truth: classNames[t] ?? String(t), predicted: classNames[p] ?? String(p), count })));
  return {
    title: 'Confusion matrix',
    spec: {
      title: 'Confusion matrix (test)',
      width: 260,
      height: 260,
      data: { values },
      layer: [
        { mark: 'rect', encoding: { x: { field: 'predicted', type: 'nominal', sort: null }, y: { field: 'truth', type: 'nominal', sort: null }, color: { field: 'count', type: 'quantitative', scale: { scheme: 'blues' } } } },
        { mark: { type: 'text', fontSize: 9 }, encoding: { x: { field: 'predicted', type: 'nominal', sort: null }, y: { field: 'truth', type: 'nominal', sort: null }, text: { field: 'count' } } },
      ],
    },
  };
}

/** Every {fpr: number[], tpr: number[]} object inside a metrics object, with its path and a sibling auroc if any. */
export function findRocCurves(metrics: unknown, label: string, path = ''): RocCurve[] {
  if (!metrics || typeof metrics !== 'object' || Array.isArray(metrics)) return [];
  const o = metrics as Record<string, unknown>;
  const isNums = (v: unknown): v is number[] => Array.isArray(v) && v.every((x) => typeof x === 'number');
  if (isNums(o.fpr) && isNums(o.tpr) && o.fpr.length === o.tpr.length && o.fpr.length > 1) {
    const where = path.replace(/(^|\.)roc$/, '');
    return [{ label: where ? `${label} · ${where}` : label, fpr: o.fpr, tpr: o.tpr, ...(typeof o.auroc === 'number' ? { auroc: o.auroc } : {}) }];
  }
  return Object.entries(o).flatMap(([k, v]) => {
    const curves = findRocCurves(v, label, path ? `${path}.${k}` : k);
    // `roc: {fpr, tpr}` beside `auroc`: take the sibling's value.
    if (k === 'roc' && typeof o.auroc === 'number') for (const c of curves) c.auroc ??= o.auroc;
    return curves;
  });
}

export interface PlotRun {
  id: string;
  status: string;
  params: Record<string, unknown>;
  metrics: Record<string, unknown>;
}

export const CLEAN_METRICS = ['cleanAccuracy', 'testAccuracy'];
export const ATTACK_METRICS = ['attackSuccessRate', 'asr', 'targetSuccess'];
const BUDGET_LIKE = /budget|eps|epsilon|rate|fraction|ratio|poison|strength|alpha/i;

const label = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v));

export interface AutoPlotOptions {
  /** Metrics to plot against the axes (default: headline metrics found, at most 4). */
  metrics?: string[];
  /** The x axis of metric-vs-budget plots (default: a numeric sweep axis, budget-like names first). */
  budgetAxis?: string;
  cleanMetric?: string;
  attackMetric?: string;
}

/** The plots a set of runs supports: metric vs each numeric axis with CI bands, bars by category, the clean-vs-attack trade-off, ROC curves found in metrics, and, for one run, its training curves. */
export function autoPlots(runs: PlotRun[], headline: string[], opts: AutoPlotOptions = {}): ReportPlot[] {
  const done = runs.filter((r) => r.status === 'completed');
  const flat = new Map(done.map((r) => [r.id, flattenMetrics(r.metrics)]));
  const plots: ReportPlot[] = [];
  const axes = [...new Set(done.flatMap((r) => Object.keys(r.params)))].filter((a) => a !== 'seed');
  const distinct = (a: string) => new Set(done.map((r) => label(r.params[a])));
  const varying = axes.filter((a) => distinct(a).size > 1);
  const numeric = varying.filter((a) => done.every((r) => typeof r.params[a] === 'number' && Number.isFinite(r.params[a])));
  const metrics = (opts.metrics ?? headline).filter((m) => done.some((r) => Number.isFinite(flat.get(r.id)![m]))).slice(0, 4);
  const values = (rs: PlotRun[], m: string) => rs.map((r) => flat.get(r.id)![m]).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  const groupBy = <K>(rs: PlotRun[], key: (r: PlotRun) => K) => {
    const g = new Map<string, { key: K; runs: PlotRun[] }>();
    for (const r of rs) {
      const k = key(r);
      const s = JSON.stringify(k);
      if (!g.has(s)) g.set(s, { key: k, runs: [] });
      g.get(s)!.runs.push(r);
    }
    return [...g.values()];
  };
  /** Whether axis b's value is fixed by axis a's (zipped together, or constant per a). */
  const determines = (a: string, b: string) => {
    const seen = new Map<string, string>();
    return done.every((r) => {
      const ka = label(r.params[a]);
      const vb = label(r.params[b]);
      if (!seen.has(ka)) seen.set(ka, vb);
      return seen.get(ka) === vb;
    });
  };
  const seriesOf = (r: PlotRun, x: string) =>
    varying
      .filter((a) => a !== x && !determines(x, a))
      .map((a) => `${a}=${label(r.params[a])}`)
      .join(', ') || 'all';
  const rateOf = (m: string) => isRate(m, values(done, m));

  if (done.length >= 2 && varying.length > 0) {
    const xAxes: string[] = [];
    const candidates = opts.budgetAxis ? [opts.budgetAxis] : [...numeric].sort((a, b) => Number(BUDGET_LIKE.test(b)) - Number(BUDGET_LIKE.test(a)));
    for (const a of candidates) if (numeric.includes(a) && xAxes.length < 2 && !xAxes.some((x) => determines(x, a) && determines(a, x))) xAxes.push(a);
    for (const axis of xAxes) {
      for (const m of metrics) {
        const rate = rateOf(m);
        const points = groupBy(done, (r) => [r.params[axis] as number, seriesOf(r, axis)] as const)
          .map(({ key: [x, s], runs: rs }) => ciPoint(x, s, values(rs, m), rate))
          .filter((p) => p.n > 0)
          .sort((a, b) => (a.x as number) - (b.x as number));
        plots.push(metricVsAxisPlot({ metric: m, axis, points }));
      }
    }
    if (numeric.length === 0) {
      const axisName = varying.join(' × ');
      for (const m of metrics) {
        const points = groupBy(done, (r) => varying.map((a) => label(r.params[a])).join(', '))
          .map(({ key, runs: rs }) => ciPoint(key, 'all', values(rs, m), rateOf(m)))
          .filter((p) => p.n > 0);
        plots.push(metricBarPlot({ metric: m, axis: axisName, points }));
      }
    }
  }

  // Independent runs (no sweep axes): one bar per run.
  if (done.length >= 2 && varying.length === 0) {
    for (const m of metrics.slice(0, 2)) {
      const points = done.map((r) => ciPoint(r.id, 'all', values([r], m), rateOf(m))).filter((p) => p.n > 0);
      if (points.length) plots.push(metricBarPlot({ metric: m, axis: 'run', points }));
    }
  }

  const flatAll = [...flat.values()];
  const has = (m: string) => flatAll.some((f) => Number.isFinite(f[m]));
  // Known names at the top level first, then as the last segment of a nested key (attackSummary.targetSuccess).
  const allKeys = [...new Set(flatAll.flatMap((f) => Object.keys(f)))];
  const find = (names: string[]) => names.find(has) ?? names.map((n) => allKeys.find((k) => k.endsWith(`.${n}`) && has(k))).find((k) => k !== undefined);
  const cleanMetric = opts.cleanMetric ?? find(CLEAN_METRICS);
  const attackMetric = opts.attackMetric ?? find(ATTACK_METRICS);
  if (cleanMetric && attackMetric && has(cleanMetric) && has(attackMetric)) {
    const points = groupBy(done, (r) => varying.map((a) => `${a}=${label(r.params[a])}`).join(', ') || r.id).flatMap(({ key, runs: rs }) => {
      const c = ciPoint(key, key, values(rs, cleanMetric), rateOf(cleanMetric));
      const a = ciPoint(key, key, values(rs, attackMetric), rateOf(attackMetric));
      if (c.n === 0 || a.n === 0) return [];
      return [{ label: key, clean: c.mean, cleanLo: c.lo, cleanHi: c.hi, attack: a.mean, attackLo: a.lo, attackHi: a.hi, n: Math.min(c.n, a.n) }];
    });
    if (points.length) plots.push(tradeOffPlot({ cleanMetric, attackMetric, points }));
  }

  // ROC curves found in metrics: one per configuration (its first seed), labelled by its axes.
  const rocRuns = groupBy(done, (r) => varying.map((a) => `${a}=${label(r.params[a])}`).join(', ')).map(({ key, runs: rs }) => ({ key, run: rs[0]! }));
  const curves = rocRuns.flatMap(({ key, run }) => {
    const seed = run.params.seed !== undefined ? ` (seed ${label(run.params.seed)})` : '';
    return findRocCurves(run.metrics, key ? `${key}${seed}` : done.length > 1 ? run.id : 'run');
  });
  if (curves.length) plots.push(rocPlot(curves.slice(0, 12)));

  if (done.length === 1) {
    const m = done[0]!.metrics;
    const history = Array.isArray(m.history) ? (m.history as Record<string, unknown>[]) : [];
    if (history.length) {
      const keys = [...new Set(history.flatMap((h) => Object.keys(h)))].filter((k) => !['epoch', 'seconds', 'lr'].includes(k));
      const losses = keys.filter((k) => /loss/i.test(k));
      const others = keys.filter((k) => !/loss/i.test(k));
      if (losses.length) plots.push(historyPlot(history, losses, 'Training loss per epoch'));
      if (others.length) plots.push(historyPlot(history, others, 'Evaluation per epoch'));
    }
    if (Array.isArray(m.classNames) && Array.isArray(m.perClassAccuracy)) plots.push(perClassPlot(m.classNames as string[], m.perClassAccuracy as number[], 'test accuracy'));
    if (Array.isArray(m.classNames) && Array.isArray(m.confusion)) plots.push(confusionPlot(m.classNames as string[], m.confusion as number[][]));
  }
  return plots;
}
