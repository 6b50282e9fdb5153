import { configDefaults, defineConfig } from 'vitest/config';

/**
 * The server's tests: unit tests beside the code, black-box and flow tests in test/. The browser tests and the
 * PostgreSQL tests (test/postgres, and the store conformance suite once more on PostgreSQL) have their own configs.
 */
export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    exclude: [...configDefaults.exclude, 'test/postgres/**'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
