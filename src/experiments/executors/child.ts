/**
 * Entry point of a runner child process (forked by RunnerProcess): runs the
 * jobs its parent sends, one at a time, and reports each outcome. It exits as
 * soon as its parent is gone — even mid-run, where the main loop may be busy
 * with tensor work for a long time: every training step checks the parent id.
 */
import { executeRun } from './runOne.js';
import type { ChildRequest, ChildMessage } from './runnerProcess.js';

const parentPid = process.ppid;

function send(msg: ChildMessage): void {
  if (process.connected) process.send!(msg);
}

function parentGone(): boolean {
  return process.ppid !== parentPid || !process.connected;
}

process.on('disconnect', () => process.exit(0));

process.on('message', (raw) => {
  const msg = raw as ChildRequest;
  if (msg.type !== 'run') return;
  const { job, store, worker } = msg;
  void executeRun(job, store, {
    worker,
    onLog: (line) => send({ type: 'log', runId: job.runId, line }),
    onStep: () => {
      if (parentGone()) process.exit(1);
    },
  }).then(
    (outcome) => send({ type: 'result', outcome }),
    (e: unknown) => send({ type: 'result', outcome: { runId: job.runId, status: 'failed', error: e instanceof Error ? e.message : String(e) } }),
  );
});

send({ type: 'ready', pid: process.pid });
