import type { Command } from 'commander';
import { listDatasets } from '../../data/builtin.js';
import { listModels } from '../../models/registry.js';
import { listAttacks } from '../../attacks/registry.js';
import { listDefenses } from '../../defenses/registry.js';
import { out, printJson, table } from '../output.js';

export function registerList(program: Command): void {
  program
    .command('list')
    .description('list built-in datasets, models, attacks and defenses (with fidelity labels)')
    .option('--json', 'print one JSON object on the last line of stdout')
    .action((opts: { json?: boolean }) => {
      const datasets = listDatasets();
      const models = listModels();
      const attacks = listAttacks();
      const defenses = listDefenses();
      if (opts.json) {
        printJson({
          datasets: datasets.map((d) => d.name),
          models: models.map((m) => m.name),
          attacks: attacks.map((a) => a.name),
          defenses: defenses.map((d) => d.name),
        });
        return;
      }
      out('Datasets');
      out(table(['name', 'train', 'test', 'shape', 'classes', 'source'], datasets.map((d) => [d.name, d.sizes.train, d.sizes.test, d.shape.join('×'), d.numClasses, d.defaultDir])));
      out('\nModels');
      out(table(['name', 'description'], models.map((m) => [m.name, m.description])));
      out('\nAttacks');
      out(attacks.length ? table(['name', 'threat', 'stage', 'fidelity', 'title'], attacks.map((a) => [a.name, a.capabilities.threatModel, a.capabilities.stage, a.fidelity, a.title])) : '(none yet)');
      out('\nDefenses');
      out(defenses.length ? table(['name', 'stage', 'fidelity', 'title'], defenses.map((d) => [d.name, d.capabilities.stage, d.fidelity, d.title])) : '(none yet)');
    });
}
