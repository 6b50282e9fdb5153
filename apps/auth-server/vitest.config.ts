import { defineConfig } from 'vitest/config';

/** The server's tests: unit tests beside the code, black-box and flow tests in test/. The browser tests have their own config. */
export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
