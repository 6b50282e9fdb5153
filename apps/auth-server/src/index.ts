export { startServer, type RunningServer, type StartOptions } from './server.js';
export { loadServerConfig, parseTrustProxy, type LoadOptions } from './config/load.js';
export { buildServerConfig, CONFIG_DEFAULTS, type ServerConfig, type ServerConfigInput } from './config/server-config.js';
export { ConfigError } from './config-error.js';
export { parseTenants, type RawTenantsFile } from './config/tenants.js';
export type { TenantConfig } from './tenants/tenant.js';
export type { Clock } from './clock.js';
