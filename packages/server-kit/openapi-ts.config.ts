import { defineConfig } from '@hey-api/openapi-ts';

export default defineConfig({
  input: '../../openapi/openapi.yaml',
  output: {
    path: 'src/gen/types',
    module: { extension: '.js' },
  },
  plugins: ['@hey-api/typescript'],
});
