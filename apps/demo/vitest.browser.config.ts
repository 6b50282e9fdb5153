import { defineConfig } from 'vitest/config';

/** The demo app clicked through in a real Chromium (`/usr/bin/chromium`, from Debian's package), against the server and against the mock. */
export default defineConfig({
  test: {
    include: ['test/browser/**/*.browser.ts'],
    testTimeout: 90_000,
    hookTimeout: 90_000,
    fileParallelism: false,
  },
});
