export { defaultConfig, defineConfig } from './config.js';
export type { HandlersPlugin } from './types.js';
