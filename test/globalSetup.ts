import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';

/**
 * The CLI tests run the real `hemlock` binary, which executes the compiled
 * dist/. Compile once before the suite so they never test stale code.
 */
export default function setup(): void {
  // Developers iterating on one module may skip the compile (the CLI tests then use the last build).
  if (process.env.HEMLOCK_SKIP_BUILD === '1') return;
  const require = createRequire(import.meta.url);
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
}
