import { existsSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { loadDataset } from '../src/data/builtin.js';
import { galleryItem, pngDataUri, writeRunGalleries, type GalleryItem } from '../src/report/images.js';
import { writeReport, type ReportInput, type ReportRun } from '../src/report/report.js';
import { hemlock } from './cli.js';

/**
 * The HTML report rendered in real headless Chromium (playwright-core with
 * /usr/bin/chromium, a fresh empty profile, no network): no console errors,
 * every plot drawn, every gallery image decoded, a screenshot saved.
 */

const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

interface PageCheck {
  errors: string[];
  requests: string[];
  plotsState: string | null;
  plots: { id: string; svg: boolean; canvas: boolean; marks: number; width: number }[];
  images: { alt: string; naturalWidth: number; complete: boolean }[];
  screenshot: string;
}

async function renderInChromium(file: string, screenshot: string): Promise<PageCheck> {
  const profile = mkdtempSync(join(tmpdir(), 'hemlock-chromium-profile-'));
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: ARGS, viewport: { width: 1280, height: 900 } });
  try {
    const page = await context.newPage();
    const errors: string[] = [];
    const requests: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
    page.on('requestfailed', (r) => errors.push(`request failed: ${r.url()}`));
    page.on('request', (r) => requests.push(r.url()));
    await page.goto(`file://${file}`, { waitUntil: 'load' });
    await page.waitForFunction(() => document.body.getAttribute('data-plots') !== null, null, { timeout: 60_000 });
    const state = await page.evaluate(() => ({
      plotsState: document.body.getAttribute('data-plots'),
      plots: [...document.querySelectorAll<HTMLElement>('.vega')].map((d) => {
        const svg = d.querySelector('svg');
        const canvas = d.querySelector('canvas');
        return {
          id: d.id,
          svg: !!svg,
          canvas: !!canvas && canvas.width > 0,
          marks: d.querySelectorAll('g.mark-line path, g.mark-area path, g.mark-symbol path, g.mark-rect path, g.mark-rule line, g.mark-text text').length,
          width: (svg ?? canvas)?.getBoundingClientRect().width ?? 0,
        };
      }),
      images: [...document.querySelectorAll<HTMLImageElement>('img')].map((i) => ({ alt: i.alt, naturalWidth: i.naturalWidth, complete: i.complete })),
    }));
    await page.screenshot({ path: screenshot, fullPage: true });
    return { errors, requests, screenshot, ...state };
  } finally {
    await context.close();
  }
}

function expectRendered(check: PageCheck, minPlots: number, minImages: number): void {
  expect(check.errors).toEqual([]);
  // Self-contained: the page fetched nothing but itself and its data URIs.
  expect(check.requests.filter((u) => !u.startsWith('file:') && !u.startsWith('data:'))).toEqual([]);
  expect(check.plotsState).toBe('rendered');
  expect(check.plots.length).toBeGreaterThanOrEqual(minPlots);
  for (const p of check.plots) {
    expect(p.svg || p.canvas, `${p.id} has no svg/canvas`).toBe(true);
    expect(p.marks, `${p.id} drew no marks`).toBeGreaterThan(0);
    expect(p.width).toBeGreaterThan(0);
  }
  expect(check.images.length).toBeGreaterThanOrEqual(minImages);
  for (const i of check.images) {
    expect(i.complete, i.alt).toBe(true);
    expect(i.naturalWidth, i.alt).toBeGreaterThan(0);
  }
  expect(statSync(check.screenshot).size).toBeGreaterThan(10_000);
}

/** Clean Fashion-MNIST images and a "poisoned" version: a white 4×4 trigger patch plus a faint ±4/255 pattern. */
async function sampleGallery(n: number): Promise<GalleryItem[]> {
  const { test } = await loadDataset('fashion-mnist-mini');
  const { height: h, width: w, channels: c } = test;
  const size = h * w * c;
  const items: GalleryItem[] = [];
  for (let k = 0; k < n; k++) {
    const clean = test.images.subarray(k * size, (k + 1) * size);
    const poisoned = new Float32Array(clean);
    for (let i = 0; i < size; i++) poisoned[i] = Math.min(1, Math.max(0, poisoned[i]! + ((i % 7) - 3) * (4 / 255 / 3)));
    for (let y = h - 6; y < h - 2; y++) for (let x = w - 6; x < w - 2; x++) poisoned[y * w + x] = 1;
    items.push(await galleryItem({ clean, poisoned, height: h, width: w, channels: c, caption: `${test.classNames[test.labels[k]!]} #${k}` }));
  }
  // An item given only as two data URIs: the report computes its perturbation.
  const clean = test.images.subarray(n * size, (n + 1) * size);
  const poisoned = new Float32Array(clean).map((v, i) => (i % w < 3 ? 1 : v));
  items.push({ caption: 'data URIs only', clean: await pngDataUri(clean, h, w, c), poisoned: await pngDataUri(poisoned, h, w, c) });
  return items;
}

describe('HTML report in headless Chromium', () => {
  it('chromium is installed', () => {
    expect(existsSync(CHROMIUM), `${CHROMIUM} missing: apt-get install -y chromium`).toBe(true);
  });

  it('renders a sweep report from a store (`hemlock report`): plots, gallery, no errors, no network', { timeout: 400_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hemlock-report-'));
    const store = join(dir, 'store');
    const spec = join(dir, 'sweep.json');
    writeFileSync(
      spec,
      JSON.stringify({
        name: 'report-test',
        base: {
          data: { dataset: 'fashion-mnist-mini', trainLimit: 200, testLimit: 100 },
          model: { architecture: 'mlp', options: { hidden: [32] } },
          train: { epochs: 1, batchSize: 50, optimizer: { kind: 'sgd' } },
          backend: 'wasm',
        },
        grid: { 'train.optimizer.lr': [0.01, 0.05], seed: [0, 1] },
      }),
    );
    const sweep = hemlock(['sweep', spec, '--store', store, '--json']);
    expect(sweep.code, sweep.stderr).toBe(0);
    expect(sweep.json).toEqual({ runs: 4, completed: 4, failed: 0, skipped: 0 });
    // One run carries a gallery in its artifacts (as an attack run would).
    const results = hemlock(['results', '--store', store, '--json']);
    await writeRunGalleries(join(store, results.json[0].runDir, 'artifacts'), [{ title: 'Poisons', items: await sampleGallery(2) }]);

    const out = join(dir, 'sweep.html');
    const report = hemlock(['report', store, '--out', out, '--json']);
    expect(report.code, report.stderr).toBe(0);
    expect(report.json.runs).toBe(4);
    expect(report.json.galleryImages).toBe(9);
    const check = await renderInChromium(out, join(dir, 'sweep.png'));
    console.log(`report screenshot: ${check.screenshot}`);
    expectRendered(check, report.json.plots, 9);
    expect(check.plots).toHaveLength(report.json.plots);

    // A single run's report: training curves, per-class accuracy, confusion matrix.
    const runOut = join(dir, 'run.html');
    const one = hemlock(['report', join(store, results.json[1].runDir), '--out', runOut, '--json']);
    expect(one.code, one.stderr).toBe(0);
    const runCheck = await renderInChromium(runOut, join(dir, 'run.png'));
    console.log(`run report screenshot: ${runCheck.screenshot}`);
    expectRendered(runCheck, 3, 0);
  });

  it('renders every plot kind: metric vs budget with CI bands, trade-off, ROC, gallery', { timeout: 300_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hemlock-report-'));
    const runs: ReportRun[] = [];
    for (const attack of ['patch', 'blend'])
      for (const budget of [0.01, 0.02, 0.05])
        for (const seed of [0, 1, 2]) {
          const asr = Math.min(1, budget * (attack === 'patch' ? 15 : 9) + 0.03 * seed);
          const fpr = [0, 0.1, 0.3, 0.6, 1];
          const tpr = fpr.map((f) => Math.min(1, Math.sqrt(f) + budget));
          runs.push({
            id: `${attack}-${budget}-${seed}`,
            status: 'completed',
            params: { attack, budget, seed },
            metrics: { cleanAccuracy: 0.85 - budget - 0.01 * seed, attackSuccessRate: asr, detection: { auroc: 0.7 + budget, roc: { fpr, tpr } } },
          });
        }
    runs.push({ id: 'broken', status: 'failed', params: { attack: 'blend', budget: 0.1, seed: 0 }, metrics: {}, error: 'out of memory' });
    const input: ReportInput = {
      title: 'Synthetic study',
      subtitle: 'every plot kind',
      runs,
      galleries: [{ title: 'Patch trigger', items: await sampleGallery(3) }],
      spec: { attacks: ['patch', 'blend'], budgets: [0.01, 0.02, 0.05], seeds: 3 },
      environment: { machine: 'test' },
    };
    const file = join(dir, 'synthetic.html');
    const r = await writeReport(file, input);
    // 2 metrics vs budget, the trade-off, ROC.
    expect(r.plots).toBeGreaterThanOrEqual(4);
    expect(r.galleryImages).toBe(12);
    const check = await renderInChromium(file, join(dir, 'synthetic.png'));
    console.log(`synthetic report screenshot: ${check.screenshot}`);
    expectRendered(check, 4, 12);
  });
});
