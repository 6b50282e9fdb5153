import { defineConfig } from 'vitest/config';

/** The BFF driven by a real Chromium (`/usr/bin/chromium`, from Debian's package). CI installs it; `pnpm test:browser` runs them. */
export default defineConfig({
  test: {
    include: ['test/browser/**/*.browser.ts'],
    testTimeout: 90_000,
    hookTimeout: 90_000,
  },
});
