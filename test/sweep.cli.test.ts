import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hemlock } from './cli.js';
import { freePort } from './helpers/procs.js';

/** Bad input to sweep / worker / results / report: exit code 2 and one line naming the file, field or value. */
describe('sweep, worker, results, report: bad input', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hemlock-sweep-cli-'));
  const spec = join(dir, 'bad.yaml');
  writeFileSync(spec, 'base:\n  data: { dataset: fashion-mnist-mini }\ngrid:\n  train.epochs: [1, 0]\n');

  const expectOneLine = (r: ReturnType<typeof hemlock>, re: RegExp) => {
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(re);
  };

  it('rejects an invalid combination, naming the file, the run and the field', () => {
    expectOneLine(hemlock(['sweep', spec, '--store', join(dir, 's')]), /bad\.yaml run 2 \{train\.epochs=0\}: train\.epochs: expected positive integer, got 0/);
  });

  it('rejects conflicting executors and bad URLs', () => {
    const ok = join(dir, 'ok.json');
    writeFileSync(ok, JSON.stringify({ base: { data: { dataset: 'fashion-mnist-mini' } } }));
    expectOneLine(hemlock(['sweep', ok, '--workers', '2', '--redis', 'redis://127.0.0.1:1']), /--workers and --redis/);
    expectOneLine(hemlock(['sweep', ok, '--workers', 'zero']), /--workers: expected a positive integer, got 'zero'/);
    expectOneLine(hemlock(['sweep', ok, '--redis', 'http://x']), /--redis: 'http:\/\/x' is not a redis:\/\/ URL/);
  });

  it('a worker (and a coordinator) without Redis fail at once with one line', async () => {
    const port = await freePort();
    expectOneLine(hemlock(['worker', '--redis', `redis://127.0.0.1:${port}`, '--store', join(dir, 's')]), /--redis: cannot reach Redis at redis:\/\/127\.0\.0\.1:\d+ \(connect ECONNREFUSED/);
    const ok = join(dir, 'ok2.json');
    writeFileSync(ok, JSON.stringify({ base: { data: { dataset: 'fashion-mnist-mini' } } }));
    expectOneLine(hemlock(['sweep', ok, '--redis', `redis://127.0.0.1:${port}`, '--store', join(dir, 's')]), /cannot reach Redis/);
  });

  it('results and report name the missing store or path', () => {
    expectOneLine(hemlock(['results', '--store', join(dir, 'nope')]), /--store: .*nope does not exist/);
    expectOneLine(hemlock(['results', '--store', dir]), /has no results index/);
    expectOneLine(hemlock(['report', join(dir, 'nope'), '--out', join(dir, 'r.html')]), /nope: no such file or directory/);
    expectOneLine(hemlock(['report', dir, '--out', join(dir, 'r.html')]), /not a run folder, a store, or a folder of runs/);
  });

  it('exports the sweep JSON Schema with the experiment schema under base', () => {
    const r = hemlock(['schema', '--sweep']);
    expect(r.code).toBe(0);
    const schema = JSON.parse(r.stdout);
    expect(schema.required).toEqual(['base']);
    expect(schema.additionalProperties).toBe(false);
    expect(schema.properties.base.properties.train.properties.epochs.type).toBe('integer');
    expect(schema.properties.base.required).toBeUndefined();
    expect(Object.keys(schema.properties)).toEqual(['name', 'description', 'base', 'grid', 'zip']);
  });
});
