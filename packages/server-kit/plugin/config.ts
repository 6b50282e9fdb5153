import { definePluginConfig } from '@hey-api/openapi-ts';
import { handler } from './plugin.js';
import type { HandlersPlugin } from './types.js';

export const defaultConfig: HandlersPlugin['Config'] = {
  config: { includeInEntry: false, typesModule: '@aimable/auth-openapi', contextModule: '../context.js' },
  handler,
  name: 'handlers',
};

/** The `handlers` plugin, for `plugins: [handlers()]` in an openapi-ts configuration. */
export const defineConfig = definePluginConfig(defaultConfig);
