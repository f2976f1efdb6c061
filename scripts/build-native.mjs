#!/usr/bin/env node
/**
 * Builds hemlock's optional native kernels (native/, a C++ N-API addon) with
 * the node-gyp that ships with npm. Run by `npm run prepare` (so by `npm ci`).
 *
 * Prints one line saying whether the native kernels were built and ALWAYS
 * exits 0: a machine without a C++ compiler (or without node headers) keeps
 * working on the wasm kernels. The full build log goes to
 * native/build/build.log when the build fails.
 *
 * HEMLOCK_NATIVE=0 skips the build.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const nativeDir = join(root, 'native');
const addon = join(nativeDir, 'build', 'Release', 'hemlock_native.node');

function say(line) {
  console.log(`hemlock: ${line}`);
}

function nodeGypScript() {
  // 1. node-gyp bundled with the npm that runs this script (npm sets npm_execpath).
  const candidates = [];
  if (process.env.npm_execpath) {
    candidates.push(join(dirname(process.env.npm_execpath), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
    candidates.push(join(dirname(process.env.npm_execpath), 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  }
  // 2. npm installed next to this node (e.g. /usr/lib/node_modules/npm or <prefix>/lib/node_modules/npm).
  const prefix = join(dirname(process.execPath), '..');
  candidates.push(join(prefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  candidates.push(join(dirname(process.execPath), 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  // 3. a node-gyp package resolvable from here.
  try {
    candidates.push(createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js'));
  } catch {
    // not installed
  }
  return candidates.find((p) => existsSync(p));
}

function main() {
  if (process.env.HEMLOCK_NATIVE === '0') {
    say('native kernels not built (HEMLOCK_NATIVE=0); using the wasm kernels');
    return;
  }
  const gyp = nodeGypScript();
  if (!gyp) {
    say('native kernels not built (node-gyp not found); using the wasm kernels');
    return;
  }
  const args = [gyp, 'rebuild'];
  // Without local headers node-gyp tries to download them, which fails
  // offline. Inside npm scripts npm passes npm_config_nodedir when set; else
  // use the headers installed with node (e.g. Debian's /usr/include/node).
  if (!process.env.npm_config_nodedir) {
    const prefix = join(dirname(process.execPath), '..');
    if (existsSync(join(prefix, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${prefix}`);
  }
  const r = spawnSync(process.execPath, args, { cwd: nativeDir, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.status === 0 && existsSync(addon)) {
    // Load it once here, so a binary that cannot run on this machine is
    // reported now rather than at the first command.
    try {
      const info = createRequire(import.meta.url)(addon).info();
      say(`native kernels built (${info.isa}, ${info.threads} threads): ${addon}`);
    } catch (e) {
      say(`native kernels built but do not load (${String(e?.message ?? e).split('\n')[0]}); using the wasm kernels`);
    }
    return;
  }
  const log = `${r.stdout ?? ''}\n${r.stderr ?? ''}\n${r.error ? String(r.error) : ''}`;
  let where = '';
  try {
    mkdirSync(join(nativeDir, 'build'), { recursive: true });
    writeFileSync(join(nativeDir, 'build', 'build.log'), log);
    where = ' (log: native/build/build.log)';
  } catch {
    // nowhere to write the log; the summary line still says why
  }
  const firstError = log.split('\n').find((l) => /error|not found|ERR!/i.test(l))?.trim() ?? `exit ${r.status}`;
  say(`native kernels not built: ${firstError.slice(0, 200)}${where}; using the wasm kernels`);
}

try {
  main();
} catch (e) {
  say(`native kernels not built: ${String(e?.message ?? e).split('\n')[0]}; using the wasm kernels`);
}
process.exit(0);
