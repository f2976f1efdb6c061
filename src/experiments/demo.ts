import { join } from 'node:path';
import { collectReport } from '../report/collect.js';
import { writeReport, type ReportInput, type ReportTable } from '../report/report.js';
import { ciPoint, metricBarPlot, type RocCurve } from '../report/plots.js';
import type { StepProgress } from '../train/trainer.js';
import { runExperiment } from './runner.js';
import type { ExperimentInput } from './schema.js';
import { validateExperiment } from './spec.js';
import { isT1Metrics } from './t1Runner.js';
import type { BackdoorMetrics } from './backdoorRunner.js';

/**
 * `hemlock demo` (= `npm start`): a compact study on the embedded
 * fashion-mnist-mini that touches every layer of the pipeline in a few
 * minutes on a laptop —
 *   1. T1: a SimCLR ConvNet-S pre-trained without labels (through the encoder
 *      cache, so a second demo skips it), a linear probe on its frozen
 *      features, clean and poisoned by label flipping and by gradient
 *      canceling in feature space;
 *   2. a BadNets patch backdoor in the training set of a ConvNet-S trained
 *      from scratch, and spectral-signature detection with retraining on
 *      what the defense keeps;
 * then one table in the terminal and one self-contained HTML report.
 * The specs are ordinary experiments (`demoSpecs`), so a user can copy them.
 */

export interface DemoOptions {
  /** Folder for the demo's run folders and report. */
  out: string;
  backend?: string;
  cacheDir?: string;
  onLog?: (line: string) => void;
  onStep?: (p: StepProgress) => void;
  /** 'tiny' shrinks every stage (a few hundred images, narrow model) for tests; the numbers mean little. */
  scale?: 'standard' | 'tiny';
}

export interface DemoRow {
  study: string;
  setting: string;
  /** Clean test accuracy of the victim (after the defense, where there is one). */
  accuracy: number;
  /** Clean accuracy of the same victim without attack. */
  cleanAccuracy: number;
  /** Accuracy drop caused by the attack (points / 100). */
  accuracyDrop: number | null;
  /** Attack success rate on triggered test inputs (backdoors only). */
  asr: number | null;
  /** Detection AUROC of the defense (defended rows only). */
  auroc: number | null;
}

export interface DemoResult {
  rows: DemoRow[];
  runDirs: string[];
  report: string;
  seconds: number;
  encoderCacheHit: boolean | null;
}

/** The demo's experiment specs (plain, validated like any user spec). */
export function demoSpecs(backend = 'auto', scale: 'standard' | 'tiny' = 'standard'): { t1: ExperimentInput; backdoor: ExperimentInput } {
  const tiny = scale === 'tiny';
  const t1: ExperimentInput = {
    name: 'demo-t1-simclr',
    description: 'T1: poisoning a linear probe on a frozen SimCLR encoder (label flip vs gradient canceling in feature space).',
    seed: 0,
    backend: backend as ExperimentInput['backend'],
    data: { dataset: 'fashion-mnist-mini', trainLimit: tiny ? 300 : 3000, ...(tiny ? { testLimit: 200 } : {}) },
    model: { architecture: 'convnet-s', ...(tiny ? { options: { widths: [4, 8, 16] } } : {}) },
    pretrain: {
      method: 'simclr',
      epochs: tiny ? 1 : 3,
      batchSize: tiny ? 100 : 256,
      temperature: 0.2,
      knn: { k: 20, temperature: 0.1, every: tiny ? 1 : 3 },
    },
    t1: {
      mode: 'same-dataset',
      downstream: { dataset: 'fashion-mnist-mini', trainLimit: tiny ? 200 : 1000, ...(tiny ? { testLimit: 200 } : {}) },
      encoder: { source: 'pretrain' },
      probe: { l2: 1e-5, maxIter: tiny ? 100 : 300 },
      epsilons: [0.1],
      seeds: [0],
      export: 'poisons',
      attacks: [
        { name: 'label-flip-worst' },
        { name: 'gc-feature', targetParams: { radius: [0.05, 0.1, 0.2, 0.4] }, ...(tiny ? { gc: { steps: 30 } } : {}) },
      ],
    },
  };
  const backdoor: ExperimentInput = {
    name: 'demo-badnets',
    description: 'A BadNets patch backdoor in a from-scratch training set, and spectral signatures against it.',
    seed: 0,
    backend: backend as ExperimentInput['backend'],
    data: { dataset: 'fashion-mnist-mini', trainLimit: tiny ? 300 : 3000, ...(tiny ? { testLimit: 200 } : {}) },
    model: { architecture: 'convnet-s', ...(tiny ? { options: { widths: [4, 8, 16] } } : {}) },
    // Flip off: a mirrored trigger would sit in another corner.
    train: { epochs: tiny ? 1 : 4, augment: { flip: false } },
    backdoor: {
      attack: { name: 'badnets', rate: 0.05, targetClass: 0, trigger: { kind: 'patch', size: 3, pattern: 'checkerboard', position: 'bottom-right' } },
      // The poisons are a third of the target class: spectral signatures is told so.
      defenses: [{ name: 'spectral-signatures', epsilon: 0.33 }],
      victim: 'from-scratch',
      clean: true,
      gallery: 6,
    },
  };
  return { t1, backdoor };
}

const pct = (x: number | null) => (x === null ? '–' : `${(x * 100).toFixed(1)}%`);

export function demoTable(rows: DemoRow[]): ReportTable {
  return {
    title: 'Demo study: fashion-mnist-mini',
    headers: ['study', 'setting', 'clean accuracy', 'accuracy', 'accuracy drop', 'attack success', 'detection AUROC'],
    rows: rows.map((r) => [r.study, r.setting, pct(r.cleanAccuracy), pct(r.accuracy), r.accuracyDrop === null ? '–' : `${(r.accuracyDrop * 100).toFixed(1)} pt`, pct(r.asr), r.auroc === null ? '–' : r.auroc.toFixed(3)]),
    note: 'T1 rows: linear probe on a frozen SimCLR ConvNet-S (ε = 10% poisons added). Backdoor rows: ConvNet-S trained from scratch; attack success = triggered non-target test images classified as the target class.',
  };
}

export async function runDemo(opts: DemoOptions): Promise<DemoResult> {
  const t0 = performance.now();
  const specs = demoSpecs(opts.backend, opts.scale);
  const runsRoot = join(opts.out, 'runs');
  const common = { root: runsRoot, ...(opts.cacheDir ? { cacheDir: opts.cacheDir } : {}), ...(opts.onLog ? { onLog: opts.onLog } : {}), ...(opts.onStep ? { onStep: opts.onStep } : {}) };
  const rows: DemoRow[] = [];
  const runDirs: string[] = [];

  opts.onLog?.('demo 1/2: T1 — SimCLR encoder (cached after the first demo), linear probe, label flip and gradient canceling');
  const t1 = await runExperiment(validateExperiment(specs.t1, 'demo t1 spec'), common);
  runDirs.push(t1.runDir);
  const m1 = t1.metrics;
  let encoderCacheHit: boolean | null = null;
  if (isT1Metrics(m1)) {
    encoderCacheHit = m1.encoder.cacheHit ?? null;
    rows.push({ study: 'T1 frozen encoder', setting: 'clean', accuracy: m1.cleanProbe.accuracy, cleanAccuracy: m1.cleanProbe.accuracy, accuracyDrop: 0, asr: null, auroc: null });
    for (const r of m1.runs) {
      rows.push({ study: 'T1 frozen encoder', setting: r.attack, accuracy: r.poisonedAccuracy, cleanAccuracy: r.cleanAccuracy, accuracyDrop: r.signedDrop, asr: null, auroc: null });
    }
  }

  opts.onLog?.('demo 2/2: BadNets backdoor, spectral-signature detection and retraining');
  const bd = await runExperiment(validateExperiment(specs.backdoor, 'demo backdoor spec'), common);
  runDirs.push(bd.runDir);
  rows.push(...backdoorRows(bd.metrics));

  // One report over this demo's run folders (the folder may hold earlier demos' runs).
  const parts = runDirs.map((d) => collectReport(d));
  const input: ReportInput = {
    title: 'hemlock demo: fashion-mnist-mini',
    subtitle: `${runDirs.length} runs · ${opts.out}`,
    runs: parts.flatMap((p) => p.runs),
    galleries: parts.flatMap((p) => p.galleries ?? []),
    spec: specs,
    // The demo's own plots: one bar per setting (single seed, so no interval).
    autoPlots: false,
    plots: [
      metricBarPlot({ metric: 'test accuracy', axis: 'setting', points: rows.map((r) => ciPoint(`${r.study === 'T1 frozen encoder' ? 'T1' : 'backdoor'}: ${r.setting}`, 'demo', [r.accuracy], true)) }),
      metricBarPlot({ metric: 'attack success rate', axis: 'setting', points: rows.filter((r) => r.asr !== null).map((r) => ciPoint(r.setting, 'demo', [r.asr!], true)) }),
    ],
    roc: defenseRocs(bd.metrics),
  };
  input.tables = [demoTable(rows)];
  input.notes = [
    'A compact study on the embedded Fashion-MNIST subset: poisoning a linear probe on a frozen self-supervised encoder (T1), and a patch backdoor in a from-scratch training set with a detection defense.',
    'Scaled down to run in a few minutes on a laptop CPU; see the README for the full-size experiments and their fidelity labels.',
  ];
  const report = join(opts.out, 'report.html');
  await writeReport(report, input);
  return { rows, runDirs, report, seconds: (performance.now() - t0) / 1000, encoderCacheHit };
}

/** Rows of the backdoor run: no attack, attack, and attack + each defense (retrained on what it kept). */
function backdoorRows(metrics: unknown): DemoRow[] {
  const m = metrics as BackdoorMetrics;
  if (m.kind !== 'backdoor') return [];
  const clean = m.cleanAccuracy ?? m.poisonedAccuracy;
  const rows: DemoRow[] = [];
  if (m.cleanAccuracy !== undefined) rows.push({ study: 'backdoor (from scratch)', setting: 'clean', accuracy: m.cleanAccuracy, cleanAccuracy: clean, accuracyDrop: 0, asr: m.asrBaseline ?? null, auroc: null });
  rows.push({ study: 'backdoor (from scratch)', setting: `${m.attack} ${m.trigger}`, accuracy: m.poisonedAccuracy, cleanAccuracy: clean, accuracyDrop: clean - m.poisonedAccuracy, asr: m.asr, auroc: null });
  for (const d of Object.values(m.defenses)) {
    rows.push({ study: 'backdoor (from scratch)', setting: `${m.attack} + ${d.defense}`, accuracy: d.retrainedAccuracy, cleanAccuracy: clean, accuracyDrop: clean - d.retrainedAccuracy, asr: d.retrainedAsr, auroc: d.auroc });
  }
  return rows;
}

/** ROC curves of the backdoor run's defenses, for the report. */
function defenseRocs(metrics: unknown): RocCurve[] {
  const m = metrics as BackdoorMetrics;
  if (m.kind !== 'backdoor') return [];
  return Object.values(m.defenses).map((d) => ({ label: d.defense, fpr: d.roc.fpr, tpr: d.roc.tpr, auroc: d.auroc }));
}
