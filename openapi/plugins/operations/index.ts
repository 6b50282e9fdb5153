export { defaultConfig, defineConfig } from './config.js';
export type { OperationsPlugin } from './types.js';
