import { defineConfig } from '@hey-api/openapi-ts';
import { defineConfig as operations } from './plugins/operations/index.js';

/**
 * The generation from the contract: its types, the typed fetch SDK the
 * client wraps, and the contract as data (`operations`) for the server kit,
 * the mock and the contract tests. A second output holds the same SDK
 * without a default client (`src/gen-unbound`): each call is given the
 * client it runs on, so a bundle that brings a client of its own
 * (`createAuth`'s sign-in) carries none of the generated fetch client.
 */
export default defineConfig([
  {
    input: './openapi.yaml',
    output: { path: 'src/gen', module: { extension: '.js' } },
    plugins: ['@hey-api/client-fetch', '@hey-api/typescript', '@hey-api/sdk', operations()],
  },
  {
    input: './openapi.yaml',
    output: { path: 'src/gen-unbound', module: { extension: '.js' } },
    // A provider calls these, never an app (the form post callback and back-channel logout); their form bodies
    // would import the generated client's serializer into this SDK, which must carry none of it.
    parser: { filters: { operations: { exclude: ['POST /v1/auth/oidc/{provider}/callback', 'POST /v1/auth/oidc/{provider}/backchannel-logout'] } } },
    plugins: ['@hey-api/client-fetch', '@hey-api/typescript', { name: '@hey-api/sdk', client: false }],
  },
]);
