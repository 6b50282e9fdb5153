import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

/**
 * The tests run twice: against React 19, this package's own, and against React 18, installed apart in
 * test/react-18 so that its react-dom and testing library see React 18 as their peer. The React 18 run
 * resolves this package's imports of React to that install.
 */
const react18 = createRequire(new URL('./test/react-18/package.json', import.meta.url));
const REACT_18_MODULES = ['react', 'react/jsx-runtime', 'react/jsx-dev-runtime', 'react-dom', 'react-dom/client', 'react-dom/server', '@testing-library/react'];

const shared = {
  include: ['test/**/*.test.{ts,tsx}'],
  environment: 'jsdom',
  testTimeout: 30_000,
  hookTimeout: 60_000,
};

export default defineConfig({
  test: {
    projects: [
      { extends: true, test: { ...shared, name: 'react-19', provide: { reactMajor: 19 } } },
      {
        extends: true,
        test: { ...shared, name: 'react-18', provide: { reactMajor: 18 } },
        resolve: { alias: REACT_18_MODULES.map((name) => ({ find: new RegExp(`^${name}$`), replacement: react18.resolve(name) })) },
      },
    ],
  },
});

declare module 'vitest' {
  export interface ProvidedContext {
    /** The major version of React the project runs on. */
    reactMajor: number;
  }
}
