import { Command, CommanderError } from 'commander';
import { isInputError } from '../engine/errors.js';
import { registerList } from './commands/list.js';
import { registerTrain } from './commands/train.js';
import { registerData } from './commands/data.js';
import { registerSchema } from './commands/schema.js';
import { registerBench } from './commands/bench.js';
import { registerDemo } from './commands/demo.js';
import { registerPretrain } from './commands/pretrain.js';
import { registerProbe } from './commands/probe.js';
import { registerSweep } from './commands/sweep.js';
import { registerWorker } from './commands/worker.js';
import { registerResults } from './commands/results.js';
import { registerReport } from './commands/report.js';
import { registerPoison } from './commands/poison.js';
import { registerEvaluate } from './commands/evaluate.js';

/** Exit codes: 0 ok, 1 a bug or failure, 2 bad input (one-line message, no stack). */
export const EXIT_BAD_INPUT = 2;

export function buildProgram(): Command {
  const program = new Command()
    .name('hemlock')
    .description('Red-team the pre-trained-model supply chain: poisoning and backdoor attacks, defenses, measurement.')
    .version('0.1.0')
    .exitOverride()
    .showHelpAfterError(false)
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  registerDemo(program);
  registerList(program);
  registerTrain(program);
  registerData(program);
  registerSchema(program);
  registerBench(program);
  registerPretrain(program);
  registerProbe(program);
  registerSweep(program);
  registerWorker(program);
  registerResults(program);
  registerReport(program);
  registerPoison(program);
  registerEvaluate(program);
  for (const c of program.commands) c.exitOverride();
  for (const c of program.commands.flatMap((c) => c.commands)) c.exitOverride();
  return program;
}

/** Runs the CLI and returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version end through here with code 0; usage errors
      // (unknown option, missing argument) are bad input.
      if (e.exitCode === 0) return 0;
      return EXIT_BAD_INPUT;
    }
    if (isInputError(e)) {
      process.stderr.write(`hemlock: ${e.message}\n`);
      return EXIT_BAD_INPUT;
    }
    throw e;
  }
}
