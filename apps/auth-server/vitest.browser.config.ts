import { defineConfig } from 'vitest/config';

/** Tests that drive a real Chromium (`/usr/bin/chromium`, from Debian's package). CI installs it; `pnpm test:browser` runs them. */
export default defineConfig({
  test: {
    include: ['test/browser/**/*.browser.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
