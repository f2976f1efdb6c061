import type { Command } from 'commander';
import { experimentJsonSchema } from '../../experiments/schema.js';
import { sweepJsonSchema } from '../../experiments/sweepSchema.js';

export function registerSchema(program: Command): void {
  program
    .command('schema')
    .description('print the JSON Schema of experiment specs (for editor autocompletion); --sweep: of sweep specs')
    .option('--sweep', 'the schema of sweep specs (a base experiment plus grid/zip axes)')
    .action((flags: { sweep?: boolean }) => {
      const schema = flags.sweep ? sweepJsonSchema() : experimentJsonSchema();
      process.stdout.write(`${JSON.stringify(schema, null, 2)}\n`);
    });
}
