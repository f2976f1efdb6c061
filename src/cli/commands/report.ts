import { resolve } from 'node:path';
import type { Command } from 'commander';
import { collectReport } from '../../report/collect.js';
import { reportTables, writeReport } from '../../report/report.js';
import { info, out, printJson, table } from '../output.js';

interface ReportFlags {
  out: string;
  sweep?: string;
  title?: string;
  json?: boolean;
}

export function registerReport(program: Command): void {
  program
    .command('report <path>')
    .description('write a self-contained HTML report of a run folder, a store (or one of its sweeps), or a folder of runs')
    .option('--out <file>', 'the HTML file to write', 'report.html')
    .option('--sweep <id|name>', 'in a store: only this sweep')
    .option('--title <title>', 'report title')
    .option('--json', 'print {"out","runs","plots","galleryImages"} as the last line of stdout')
    .action(async (path: string, flags: ReportFlags) => {
      const input = collectReport(path, { ...(flags.sweep ? { sweep: flags.sweep } : {}), ...(flags.title ? { title: flags.title } : {}) });
      const r = await writeReport(flags.out, input);
      const file = resolve(flags.out);
      info(`report: ${input.runs.length} runs, ${r.plots} plots, ${r.galleryImages} gallery images → ${file}`);
      if (flags.json) {
        printJson({ out: file, runs: input.runs.length, plots: r.plots, galleryImages: r.galleryImages });
        return;
      }
      const { summary, runs } = reportTables(input);
      const t = summary ?? runs;
      out(t.title);
      out(table(t.headers, t.rows));
      out(`\nreport written to ${file}`);
    });
}
