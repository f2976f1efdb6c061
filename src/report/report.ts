import { writeFileAtomic } from '../engine/files.js';
import { meanCI } from '../eval/metrics.js';
import { flattenMetrics } from '../experiments/resultsDb.js';
import { HEADLINE_METRICS, rankMetrics } from '../experiments/resultsQuery.js';
import { vegaBundle } from './assets.js';
import { completeGalleryItem, type Gallery } from './images.js';
import { autoPlots, type AutoPlotOptions, type ReportPlot, type RocCurve, rocPlot } from './plots.js';

export type { Gallery, GalleryItem } from './images.js';
export type { ReportPlot, RocCurve } from './plots.js';

/**
 * One self-contained static HTML report (no network needed to view it):
 * summary tables (mean ± 95% CI over seeds), Vega-Lite plots (metric vs budget
 * with CI bands, clean accuracy vs attack success, ROC of detectors, training
 * curves), galleries of poisoned samples beside their clean originals with the
 * perturbation magnified, every run, the resolved spec and the environment.
 * Vega, Vega-Lite and vega-embed are inlined from node_modules; images are
 * data URIs.
 */

export interface ReportRun {
  id: string;
  name?: string;
  status: 'pending' | 'running' | 'completed' | 'failed';
  /** Sweep axis values (empty for a lone run). */
  params: Record<string, unknown>;
  /** The run's metrics.json (nested objects and arrays allowed). */
  metrics: Record<string, unknown>;
  /** The resolved spec. */
  spec?: unknown;
  error?: string | null;
  environment?: unknown;
}

export interface ReportTable {
  title: string;
  headers: string[];
  rows: (string | number)[][];
  note?: string;
}

export interface ReportInput extends AutoPlotOptions {
  title: string;
  subtitle?: string;
  runs: ReportRun[];
  /** Extra tables, shown after the summary. */
  tables?: ReportTable[];
  /** Extra plots, shown before the automatic ones. */
  plots?: ReportPlot[];
  /** Set false to show only `plots`. */
  autoPlots?: boolean;
  /** Extra ROC curves (besides those found in run metrics). */
  roc?: RocCurve[];
  galleries?: Gallery[];
  /** The resolved sweep (or study) spec. */
  spec?: unknown;
  /** Where it ran (default: the first run's environment). */
  environment?: unknown;
  /** Paragraphs shown under the title. */
  notes?: string[];
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** JSON for a <script type="application/json"> element. */
function scriptJson(v: unknown): string {
  return JSON.stringify(v).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

const fmt = (v: unknown): string => {
  if (typeof v === 'number') return !Number.isFinite(v) ? '–' : Number.isInteger(v) ? String(v) : Math.abs(v) >= 1000 || Math.abs(v) < 1e-3 ? v.toExponential(3) : v.toFixed(4);
  if (v === undefined || v === null) return '';
  return typeof v === 'string' ? v : JSON.stringify(v);
};

/** A CI half-width in the mean's notation (4 decimals beside a plainly printed mean, so ± 0.0000 rather than ± 3.4e-16). */
export function fmtHalfWidth(mean: number, h: number): string {
  const plain = Number.isFinite(mean) && Math.abs(mean) < 1000 && (Math.abs(mean) >= 1e-3 || mean === 0);
  return plain && Math.abs(h) < 1000 ? h.toFixed(4) : fmt(h);
}


/** Metrics to tabulate: the given ones, else headline metrics then other scalars (not bookkeeping). */
export function reportMetrics(input: Pick<ReportInput, 'runs' | 'metrics'>, max = 6): string[] {
  if (input.metrics?.length) return input.metrics;
  const keys = new Set<string>();
  for (const r of input.runs) if (r.status === 'completed') for (const k of Object.keys(flattenMetrics(r.metrics))) keys.add(k);
  return rankMetrics([...keys]).slice(0, max);
}

/**
 * The report's tables as plain rows — the same numbers for the terminal
 * (`hemlock report`, the demo) and the HTML: the summary grouped by every
 * sweep axis except seed (mean ± 95% CI over the completed runs), and one row
 * per run.
 */
export function reportTables(input: Pick<ReportInput, 'runs' | 'metrics'>): { summary: ReportTable | null; runs: ReportTable } {
  const metrics = reportMetrics(input);
  const axes = [...new Set(input.runs.flatMap((r) => Object.keys(r.params)))];
  const groupAxes = axes.filter((a) => a !== 'seed');
  const flat = new Map(input.runs.map((r) => [r.id, flattenMetrics(r.metrics)]));
  let summary: ReportTable | null = null;
  if (input.runs.length > 1) {
    const groups = new Map<string, ReportRun[]>();
    for (const r of input.runs) {
      const k = JSON.stringify(groupAxes.map((a) => r.params[a]));
      groups.set(k, [...(groups.get(k) ?? []), r]);
    }
    summary = {
      title: groupAxes.length ? `Summary by ${groupAxes.join(', ')} (mean ± 95% CI over ${axes.includes('seed') ? 'seeds' : 'runs'})` : 'Summary (mean ± 95% CI over runs)',
      headers: [...groupAxes, 'runs', 'completed', ...metrics],
      rows: [...groups.values()].map((rs) => {
        const done = rs.filter((r) => r.status === 'completed');
        return [
          ...groupAxes.map((a) => fmt(rs[0]!.params[a])),
          rs.length,
          done.length,
          ...metrics.map((m) => {
            const ci = meanCI(done.map((r) => flat.get(r.id)![m]).filter((v): v is number => typeof v === 'number' && Number.isFinite(v)));
            if (ci.n === 0) return '–';
            return Number.isFinite(ci.halfWidth) ? `${fmt(ci.mean)} ± ${fmtHalfWidth(ci.mean, ci.halfWidth)}` : `${fmt(ci.mean)} (n=1)`;
          }),
        ];
      }),
      note: 'CI: 95% t-interval over runs (meanCI); a single run has no interval.',
    };
  }
  const runs: ReportTable = {
    title: 'Runs',
    headers: ['run', 'status', ...axes, ...metrics],
    rows: input.runs.map((r) => [r.id, r.status, ...axes.map((a) => fmt(r.params[a])), ...metrics.map((m) => fmt(flat.get(r.id)![m]))]),
  };
  return { summary, runs };
}

function tableHtml(t: ReportTable, cls = ''): string {
  const head = t.headers.map((h) => `<th>${escapeHtml(h)}</th>`).join('');
  const body = t.rows.map((r) => `<tr>${r.map((c) => `<td>${escapeHtml(typeof c === 'number' ? fmt(c) : c)}</td>`).join('')}</tr>`).join('\n');
  return `<h3>${escapeHtml(t.title)}</h3>
<div class="table-wrap"><table class="${cls}"><thead><tr>${head}</tr></thead><tbody>
${body}
</tbody></table></div>${t.note ? `<p class="note">${escapeHtml(t.note)}</p>` : ''}`;
}

function flattenForTable(v: unknown, prefix = '', out: [string, string][] = []): [string, string][] {
  if (v && typeof v === 'object' && !Array.isArray(v)) {
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) flattenForTable(x, prefix ? `${prefix}.${k}` : k, out);
  } else out.push([prefix, fmt(v)]);
  return out;
}

const CSS = `
:root { --fg: #1d2330; --muted: #5b6475; --line: #d9dee7; --bg: #ffffff; --accent: #2f5aa8; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); margin: 0; padding: 0 2rem 3rem; max-width: 1280px; }
header { border-bottom: 2px solid var(--accent); padding: 1.2rem 0 0.6rem; margin-bottom: 1rem; }
h1 { margin: 0 0 0.2rem; font-size: 1.6rem; }
h2 { margin-top: 2rem; border-bottom: 1px solid var(--line); padding-bottom: 0.2rem; }
h3 { margin: 1.2rem 0 0.4rem; font-size: 1.05rem; }
.sub, .note, figcaption { color: var(--muted); }
.note { font-size: 0.85rem; margin: 0.3rem 0; }
nav a { margin-right: 1rem; color: var(--accent); text-decoration: none; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; font-size: 0.9rem; }
th, td { border-bottom: 1px solid var(--line); padding: 0.25rem 0.7rem; text-align: left; white-space: nowrap; }
th { background: #f3f5f9; }
td.err { white-space: normal; color: #a32020; }
.stats { display: flex; gap: 1rem; flex-wrap: wrap; margin: 0.6rem 0; }
.stat { border: 1px solid var(--line); border-radius: 6px; padding: 0.4rem 0.9rem; }
.stat b { display: block; font-size: 1.3rem; }
.plots { display: flex; flex-wrap: wrap; gap: 1.2rem; }
figure.plot { margin: 0; border: 1px solid var(--line); border-radius: 6px; padding: 0.6rem; }
figure.plot figcaption { max-width: 440px; font-size: 0.85rem; }
.gallery { display: flex; flex-wrap: wrap; gap: 1rem; }
figure.sample { margin: 0; border: 1px solid var(--line); border-radius: 6px; padding: 0.5rem; }
figure.sample .row { display: flex; gap: 0.4rem; }
figure.sample .cell { text-align: center; font-size: 0.75rem; color: var(--muted); }
figure.sample img { display: block; width: 96px; height: 96px; object-fit: contain; image-rendering: pixelated; background: #eee; border: 1px solid var(--line); }
pre { background: #f6f8fb; border: 1px solid var(--line); border-radius: 6px; padding: 0.7rem; overflow-x: auto; font-size: 0.8rem; }
details { margin: 0.3rem 0; }
`;

export interface RenderedReport {
  html: string;
  plots: number;
  galleryImages: number;
}

/** Renders the report as one HTML string (async: missing perturbation images are computed). */
export async function renderReport(input: ReportInput): Promise<RenderedReport> {
  const metrics = reportMetrics(input);
  const headline = metrics.length ? metrics : HEADLINE_METRICS;
  const plots: ReportPlot[] = [...(input.plots ?? [])];
  if (input.autoPlots !== false) plots.push(...autoPlots(input.runs, headline, input));
  if (input.roc?.length) plots.push(rocPlot(input.roc));
  const galleries: Gallery[] = [];
  for (const g of input.galleries ?? []) galleries.push({ ...g, items: await Promise.all(g.items.map(completeGalleryItem)) });

  const counts = { total: input.runs.length, completed: 0, failed: 0, other: 0 };
  for (const r of input.runs) {
    if (r.status === 'completed') counts.completed++;
    else if (r.status === 'failed') counts.failed++;
    else counts.other++;
  }
  const { summary, runs } = reportTables(input);
  const environment = input.environment ?? input.runs.find((r) => r.environment)?.environment;
  const failed = input.runs.filter((r) => r.status === 'failed');
  const sections: string[] = [];
  const nav: [string, string][] = [];
  const section = (id: string, title: string, body: string) => {
    nav.push([id, title]);
    sections.push(`<section id="${id}"><h2>${escapeHtml(title)}</h2>\n${body}\n</section>`);
  };

  section(
    'summary',
    'Summary',
    `<div class="stats">
<div class="stat"><b>${counts.total}</b>runs</div>
<div class="stat"><b>${counts.completed}</b>completed</div>
<div class="stat"><b>${counts.failed}</b>failed</div>${counts.other ? `\n<div class="stat"><b>${counts.other}</b>pending or running</div>` : ''}
</div>
${summary ? tableHtml(summary, 'summary') : ''}
${(input.tables ?? []).map((t) => tableHtml(t)).join('\n')}`,
  );
  if (plots.length) {
    section(
      'plots',
      'Plots',
      `<div class="plots">
${plots.map((p, i) => `<figure class="plot"><div class="vega" id="plot-${i}" data-title="${escapeHtml(p.title)}"></div>${p.caption ? `<figcaption>${escapeHtml(p.caption)}</figcaption>` : ''}</figure>`).join('\n')}
</div>`,
    );
  }
  let galleryImages = 0;
  if (galleries.length) {
    const cell = (src: string, label: string, alt: string) => {
      galleryImages++;
      return `<div class="cell"><img class="gallery-img" src="${escapeHtml(src)}" alt="${escapeHtml(alt)}">${escapeHtml(label)}</div>`;
    };
    section(
      'galleries',
      'Galleries',
      galleries
        .map(
          (g) => `<h3>${escapeHtml(g.title)}</h3>${g.description ? `<p class="note">${escapeHtml(g.description)}</p>` : ''}
<div class="gallery">
${g.items
  .map(
    (it, i) => `<figure class="sample"><div class="row">${cell(it.clean, 'clean', `clean ${i}`)}${cell(it.poisoned, 'poisoned', `poisoned ${i}`)}${it.perturbation ? cell(it.perturbation, `perturbation ×${fmt(Number((it.magnification ?? 1).toFixed(1)))}`, `perturbation ${i}`) : ''}</div>${it.caption ? `<figcaption>${escapeHtml(it.caption)}</figcaption>` : ''}</figure>`,
  )
  .join('\n')}
</div>`,
        )
        .join('\n') + '<p class="note">Perturbation images show poisoned − clean, magnified: mid-grey is no change, lighter is an increase, darker a decrease.</p>',
    );
  }
  section(
    'runs',
    'Runs',
    `${tableHtml(runs, 'runs')}
${failed.length ? `<h3>Failures</h3><div class="table-wrap"><table><thead><tr><th>run</th><th>error</th></tr></thead><tbody>${failed.map((r) => `<tr><td>${escapeHtml(r.id)}</td><td class="err">${escapeHtml(r.error ?? 'failed')}</td></tr>`).join('')}</tbody></table></div>` : ''}`,
  );
  const specRuns = input.runs.filter((r) => r.spec !== undefined);
  const shown = specRuns.slice(0, 200);
  section(
    'spec',
    'Resolved spec',
    `${input.spec !== undefined ? `<pre>${escapeHtml(JSON.stringify(input.spec, null, 2))}</pre>` : ''}
${shown.map((r) => `<details><summary>run ${escapeHtml(r.id)}${Object.keys(r.params).length ? ` ${escapeHtml(JSON.stringify(r.params))}` : ''}</summary><pre>${escapeHtml(JSON.stringify(r.spec, null, 2))}</pre></details>`).join('\n')}
${specRuns.length > shown.length ? `<p class="note">…and ${specRuns.length - shown.length} more runs (see their spec.json files).</p>` : ''}`,
  );
  const env: [string, string][] = environment ? flattenForTable(environment) : [];
  env.push(['report.generatedAt', new Date().toISOString()]);
  env.push(...vegaBundle().scripts.map((s) => [`report.${s.name}`, s.version] as [string, string]));
  section('environment', 'Environment', `<div class="table-wrap"><table><tbody>${env.map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`).join('')}</tbody></table></div>`);

  const scripts = vegaBundle()
    .scripts.map((s) => `<script data-lib="${s.name}@${s.version}">\n${s.code}\n</script>`)
    .join('\n');
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(input.title)}</title>
<link rel="icon" href="data:,">
<style>${CSS}</style>
</head>
<body>
<header><h1>${escapeHtml(input.title)}</h1>${input.subtitle ? `<div class="sub">${escapeHtml(input.subtitle)}</div>` : ''}
${(input.notes ?? []).map((n) => `<p>${escapeHtml(n)}</p>`).join('\n')}
<nav>${nav.map(([id, t]) => `<a href="#${id}">${escapeHtml(t)}</a>`).join('')}</nav></header>
${sections.join('\n')}
${scripts}
<script type="application/json" id="hemlock-plots">${scriptJson(plots.map((p) => p.spec))}</script>
<script>
(function () {
  var specs = JSON.parse(document.getElementById('hemlock-plots').textContent);
  var jobs = specs.map(function (spec, i) {
    return vegaEmbed('#plot-' + i, spec, { renderer: 'svg', actions: false });
  });
  Promise.all(jobs).then(
    function () { document.body.setAttribute('data-plots', 'rendered'); },
    function (e) { document.body.setAttribute('data-plots', 'error'); console.error('plot failed: ' + (e && e.message)); }
  );
})();
</script>
</body>
</html>
`;
  return { html, plots: plots.length, galleryImages };
}

/** Renders the report and writes it (atomically) to `file`. */
export async function writeReport(file: string, input: ReportInput): Promise<RenderedReport> {
  const r = await renderReport(input);
  await writeFileAtomic(file, r.html);
  return r;
}
