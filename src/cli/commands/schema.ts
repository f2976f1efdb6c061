import type { Command } from 'commander';
import { experimentJsonSchema } from '../../experiments/schema.js';

export function registerSchema(program: Command): void {
  program
    .command('schema')
    .description('print the JSON Schema of experiment specs (for editor autocompletion)')
    .action(() => {
      process.stdout.write(`${JSON.stringify(experimentJsonSchema(), null, 2)}\n`);
    });
}
