import { defineConfig } from 'vitest/config';

/**
 * Tests on a real PostgreSQL (Debian's `postgresql` package; CI installs it):
 * the store conformance suite, the same file `pnpm test` runs on SQLite, and
 * several server processes on one database. `pnpm test:postgres` runs them.
 */
export default defineConfig({
  test: {
    include: ['src/store/store.conformance.test.ts', 'test/postgres/**/*.test.ts'],
    globalSetup: ['test/support/postgres-global-setup.ts'],
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
