import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Integration tests import 'nats-offload', which resolves to the built package entry
// (dist/), because the connection worker is a plain .js file loaded by worker_threads.
export default defineConfig({
  resolve: {
    alias: {
      // Before 'nats-offload', which would otherwise take the subpath as a prefix.
      'nats-offload/compat': fileURLToPath(new URL('./dist/src/compat/index.js', import.meta.url)),
      'nats-offload': fileURLToPath(new URL('./dist/src/main/index.js', import.meta.url)),
    },
  },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
  },
});
