export { startServer, type RunningServer, type StartOptions } from './server.js';
export { loadServerConfig, type LoadedConfig } from './config/load.js';
export { CONFIG_DEFAULTS, type ServerConfig } from './config/server-config.js';
export { parseTenants, ConfigError, type RawTenantsFile, type TenantConfig } from './config/tenants.js';
export { DEMO_API_KEY } from './config/demo.js';
export type { Clock } from './clock.js';
