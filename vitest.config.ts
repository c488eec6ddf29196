import { defineConfig } from 'vitest/config';

// One run over every package, app and tool: unit tests beside the code (src/**), integration tests
// under each one's test/. Integration tests talk to the real Redis on 127.0.0.1:6379 (or REDIS_URL)
// with their own key prefix, and to real HTTP servers on loopback.
export default defineConfig({
  test: {
    include: [
      'packages/*/src/**/*.test.ts',
      'packages/*/test/**/*.test.ts',
      'apps/*/test/**/*.test.ts',
      'tools/*/src/**/*.test.ts',
      'tools/*/test/**/*.test.ts',
    ],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    reporters: ['default'],
  },
});
