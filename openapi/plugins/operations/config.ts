import { definePluginConfig } from '@hey-api/openapi-ts';
import { handler } from './plugin.js';
import type { OperationsPlugin } from './types.js';

export const defaultConfig: OperationsPlugin['Config'] = {
  config: { includeInEntry: true },
  handler,
  name: 'operations',
};

/** The `operations` plugin, for `plugins: [operations()]` in an openapi-ts configuration. */
export const defineConfig = definePluginConfig(defaultConfig);
