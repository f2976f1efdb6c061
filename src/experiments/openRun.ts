import type { BackendInfo } from '../engine/backend.js';
import { describeEnvironment } from './environment.js';
import { RunRecord } from './records.js';
import type { Experiment } from './schema.js';

/**
 * Opens (or resumes) the run folder of `exp` — the sweep's `runDir` when one
 * is given, else a folder under `root` — and returns a logger that writes to
 * the run's log and to the caller. Every runner starts this way, after its
 * data has loaded (so bad input fails before a folder exists).
 */
export async function openRun(
  exp: Experiment,
  backend: BackendInfo,
  opts: { runDir?: string; root?: string; onLog?: (line: string) => void },
): Promise<{ record: RunRecord; resumed: boolean; log: (line: string) => void }> {
  const env = describeEnvironment(backend);
  const { record, resumed } = opts.runDir ? await RunRecord.openAt(opts.runDir, exp.name, exp, env) : await RunRecord.open(opts.root ?? 'runs', exp.name, exp, env);
  const log = (line: string) => {
    record.log(line);
    opts.onLog?.(line);
  };
  return { record, resumed, log };
}
