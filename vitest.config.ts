import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    globalSetup: ['test/globalSetup.ts'],
    // tfjs + wasm kernels are CPU heavy; run files in separate forks so a
    // slow numeric test never starves the CLI tests of time.
    pool: 'forks',
    // Test files already run in parallel forks; a 2-thread wasm pool in each
    // only oversubscribes the cores (tiny tensors, threads waiting on each
    // other). See docs/performance.md. An explicit HEMLOCK_THREADS wins.
    env: { HEMLOCK_THREADS: process.env.HEMLOCK_THREADS ?? '1' },
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
