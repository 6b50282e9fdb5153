import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** orval's fetch client, one file, from the contract as published. */
export default {
  aimable: {
    input: { target: require.resolve('@aimable/auth-openapi/openapi.yaml') },
    output: { target: 'gen/orval/client.ts', client: 'fetch', mode: 'single', clean: true, prettier: false },
  },
};
