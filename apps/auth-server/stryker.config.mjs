// Mutation testing of the security-critical code: `pnpm test:mutation` (from the repository root).
// Each mutant is a small bug planted in a copy of the code; the tests must fail on it.
import { createRequire } from 'node:module';

// pnpm keeps each package's dependencies to itself: name the plugins by path, so that Stryker finds them.
const require = createRequire(import.meta.url);

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  plugins: [require.resolve('@stryker-mutator/vitest-runner'), require.resolve('@stryker-mutator/typescript-checker')],
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutation.config.ts' },
  incremental: true,
  incrementalFile: 'reports/mutation/stryker-incremental.json',
  checkers: ['typescript'],
  tsconfigFile: 'tsconfig.json',
  typescriptChecker: { prioritizePerformanceOverAccuracy: true },
  coverageAnalysis: 'perTest',
  mutate: [
    'src/login/**/*.ts',
    'src/sessions/**/*.ts',
    'src/tokens/**/*.ts',
    'src/tenants/**/*.ts',
    'src/idempotency/**/*.ts',
    'src/http/caller.ts',
    'src/http/request-tenant.ts',
    'src/http/cors.ts',
    'src/store/kysely-store.ts',
    'src/store/kysely-operations.ts',
    'src/store/hot-queries.ts',
    'src/store/query-runner.ts',
    'src/store/sqlite/direct-runner.ts',
    'src/store/sqlite/session-cache.ts',
    '!src/**/*.test.ts',
  ],
  concurrency: 2,
  timeoutMS: 20_000,
  reporters: ['clear-text', 'progress', 'json'],
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  thresholds: { high: 90, low: 80, break: null },
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
};
