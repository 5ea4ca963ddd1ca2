import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['{shared,agent,collector,endpoint}/test/**/*.test.ts', 'test/**/*.test.ts'],
    exclude: ['**/node_modules/**', '**/dist/**'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Throughput tests measure wall-clock rates; running files side by side on 2 cores skews them.
    fileParallelism: false,
  },
});
