import { defineConfig } from '@hey-api/openapi-ts';
import { defineConfig as operations } from './plugins/operations/index.js';

/**
 * The one generation from the contract: its types, the typed fetch SDK the
 * client wraps, and the contract as data (`operations`) for the server kit,
 * the mock and the contract tests.
 */
export default defineConfig({
  input: './openapi.yaml',
  output: { path: 'src/gen', module: { extension: '.js' } },
  plugins: [
    '@hey-api/client-fetch',
    '@hey-api/typescript',
    // Each call is given its client. A default one would pull the whole fetch client into every bundle that
    // calls an operation, even one that brings a client of its own (createAuth's sign-in bundle).
    { name: '@hey-api/sdk', client: false },
    operations(),
  ],
});
