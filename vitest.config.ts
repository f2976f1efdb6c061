import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    globalSetup: ['test/globalSetup.ts'],
    // tfjs + wasm kernels are CPU heavy; run files in separate forks so a
    // slow numeric test never starves the CLI tests of time.
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
