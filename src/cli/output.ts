import cliProgress from 'cli-progress';
import type { StepProgress } from '../train/trainer.js';

/** Human-readable lines go to stderr, so stdout stays clean for `--json`. */
export function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

export function info(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** `--json` contract: one JSON object, on the last line of stdout. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

/**
 * A training progress bar with ETA on stderr (drawn only on a terminal;
 * in logs and CI the per-epoch log lines carry the progress instead).
 */
export function trainingProgress(label: string): { onStep: (p: StepProgress) => void; stop: () => void } {
  const bar = new cliProgress.SingleBar(
    {
      format: `${label} |{bar}| {percentage}% | epoch {epoch}/{epochs} | loss {loss} | ETA {eta_formatted}`,
      stream: process.stderr,
      hideCursor: true,
      etaBuffer: 50,
      clearOnComplete: false,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    onStep(p) {
      const total = p.epochs * p.stepsPerEpoch;
      const value = (p.epoch - 1) * p.stepsPerEpoch + p.step;
      const payload = { epoch: p.epoch, epochs: p.epochs, loss: p.loss.toFixed(4) };
      if (!started) {
        bar.start(total, value, payload);
        started = true;
      } else bar.update(value, payload);
    },
    stop() {
      if (started) bar.stop();
    },
  };
}

/** A plain text table for the terminal. */
export function table(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, c) => Math.max(...cells.map((r) => (r[c] ?? '').length)));
  const line = (r: string[]) => r.map((v, c) => v.padEnd(widths[c]!)).join('  ').trimEnd();
  return [line(cells[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}
