import type { Command } from 'commander';
import { HemlockInputError } from '../../engine/errors.js';
import { inspectPath } from '../../data/inspect.js';
import { exportDataset, type ExportFormat } from '../../data/export.js';
import { loadExperimentData } from '../../experiments/data.js';
import { out, printJson, table } from '../output.js';

const FORMATS: ExportFormat[] = ['npy', 'idx', 'png'];

export function registerData(program: Command): void {
  const data = program.command('data').description('inspect, import and export datasets');

  data
    .command('inspect <path>')
    .description('format, shape and label histogram of an IDX/NPY/CIFAR file, image folder or dataset directory')
    .option('--json', 'print one JSON object on the last line of stdout')
    .action(async (path: string, opts: { json?: boolean }) => {
      const r = await inspectPath(path);
      if (opts.json) {
        printJson(r);
        return;
      }
      out(`${r.path}: ${r.format}${r.dtype ? ` (${r.dtype})` : ''}, ${r.count} records, shape [${r.shape.join(', ')}]`);
      if (r.labelHistogram) out(table(['label', 'count'], Object.entries(r.labelHistogram)));
    });

  data
    .command('export')
    .description('write a dataset (or its class subset) as NPY, IDX or PNG folders with a sha256 manifest')
    .requiredOption('--dataset <name>', 'built-in dataset name or dataset directory')
    .option('--data-dir <dir>', 'where the files of a built-in dataset are')
    .requiredOption('--format <fmt>', 'npy, idx or png')
    .requiredOption('--out <dir>', 'output directory')
    .option('--split <which>', 'train, test or both', 'both')
    .option('--classes <list>', 'comma-separated class indices to keep')
    .option('--json', 'print one JSON object on the last line of stdout')
    .action(async (opts: { dataset: string; dataDir?: string; format: string; out: string; split: string; classes?: string; json?: boolean }) => {
      if (!FORMATS.includes(opts.format as ExportFormat)) throw new HemlockInputError(`--format: expected one of ${FORMATS.join(', ')}, got '${opts.format}'`);
      if (!['train', 'test', 'both'].includes(opts.split)) throw new HemlockInputError(`--split: expected train, test or both, got '${opts.split}'`);
      const classes = opts.classes?.split(',').map((s) => {
        const n = Number(s);
        if (!Number.isInteger(n) || n < 0) throw new HemlockInputError(`--classes: expected non-negative integers, got '${s}'`);
        return n;
      });
      const { train, test } = await loadExperimentData(
        { dataset: opts.dataset, ...(opts.dataDir ? { dataDir: opts.dataDir } : {}), ...(classes ? { classes } : {}) },
        0,
      );
      const files: Record<string, string> = {};
      for (const [prefix, ds] of [['train', train], ['test', test]] as const) {
        if (opts.split !== 'both' && opts.split !== prefix) continue;
        Object.assign(files, (await exportDataset(ds, opts.out, opts.format as ExportFormat, { prefix })).files);
      }
      if (opts.json) printJson({ dir: opts.out, format: opts.format, files });
      else out(`wrote ${Object.keys(files).length} files to ${opts.out} (manifest.json lists their sha256)`);
    });
}
