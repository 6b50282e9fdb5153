import { defineConfig } from '@hey-api/openapi-ts';
import { defineConfig as handlers } from './plugin/index.js';

/** The typed server skeleton: handler types over the operation types `@aimable/auth-openapi` generates once. */
export default defineConfig({
  input: '../../openapi/openapi.yaml',
  output: { path: 'src/gen', module: { extension: '.js' }, entryFile: false },
  plugins: [handlers()],
});
