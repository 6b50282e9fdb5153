import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_CLIENT_SECRET_ENV, demoTenantsFile } from './demo.js';
import { CONFIG_DEFAULTS, type ServerConfig } from './server-config.js';
import { ConfigError, parseTenants } from './tenants.js';

export interface LoadedConfig {
  server: ServerConfig;
  /** The local identity provider to run alongside, in the demo configuration. */
  devIdp?: { port: number; issuer: string; clients: { client_id: string; client_secret: string; redirect_uris: string[] }[] };
}

/**
 * Reads the configuration from the environment: the only place that reads
 * `process.env`. Every problem is reported at once, by name.
 */
export function loadServerConfig(env: Record<string, string | undefined>): LoadedConfig {
  const problems: string[] = [];
  const integer = (name: string, fallback: number, min = 0) => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min) problems.push(`${name} must be an integer of at least ${min}`);
    return value;
  };
  const port = integer('PORT', CONFIG_DEFAULTS.port);
  const devIdpPort = integer('DEV_IDP_PORT', 8090);
  const publicUrl = (env.AUTH_PUBLIC_URL ?? `http://localhost:${port}`).replace(/\/+$/, '');
  try {
    new URL(publicUrl);
  } catch {
    problems.push('AUTH_PUBLIC_URL must be an absolute URL');
  }
  const dataDir = resolve(env.AUTH_DATA_DIR ?? 'data');
  const tenantsFile = env.AUTH_TENANTS_FILE;
  const demo = tenantsFile === undefined;
  const devIdpIssuer = `http://localhost:${devIdpPort}`;

  let rawTenants: unknown;
  if (demo) {
    rawTenants = demoTenantsFile(devIdpIssuer);
  } else {
    try {
      rawTenants = JSON.parse(readFileSync(tenantsFile, 'utf8'));
    } catch (error) {
      problems.push(`AUTH_TENANTS_FILE ${tenantsFile} cannot be read as JSON: ${(error as Error).message}`);
    }
  }
  const secrets = demo ? { [DEMO_CLIENT_SECRET_ENV]: DEMO_CLIENT_SECRET, ...env } : env;
  let tenants: ServerConfig['tenants'] = [];
  if (rawTenants !== undefined) {
    try {
      tenants = parseTenants(rawTenants, secrets);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      problems.push(...error.problems);
    }
  }
  const validateResponses = env.AUTH_VALIDATE_RESPONSES === undefined ? env.NODE_ENV !== 'production' : env.AUTH_VALIDATE_RESPONSES === 'true';
  if (problems.length > 0) throw new ConfigError(problems);

  const server: ServerConfig = {
    port,
    host: env.HOST || undefined,
    publicUrl,
    databaseFile: resolve(dataDir, 'auth.sqlite'),
    keyFile: resolve(dataDir, 'keys.json'),
    accessTokenAudience: env.AUTH_ACCESS_TOKEN_AUDIENCE ?? CONFIG_DEFAULTS.accessTokenAudience,
    validateResponses,
    trustProxy: env.AUTH_TRUST_PROXY === undefined ? false : /^\d+$/.test(env.AUTH_TRUST_PROXY) ? Number(env.AUTH_TRUST_PROXY) : env.AUTH_TRUST_PROXY,
    loginStateTtlSeconds: CONFIG_DEFAULTS.loginStateTtlSeconds,
    idempotency: { ...CONFIG_DEFAULTS.idempotency },
    rateLimits: {
      start: { points: integer('AUTH_RATE_LIMIT_START_PER_MINUTE', CONFIG_DEFAULTS.rateLimits.start.points, 1), durationSeconds: 60 },
      session: { points: integer('AUTH_RATE_LIMIT_SESSION_PER_MINUTE', CONFIG_DEFAULTS.rateLimits.session.points, 1), durationSeconds: 60 },
      refresh: { points: integer('AUTH_RATE_LIMIT_REFRESH_PER_MINUTE', CONFIG_DEFAULTS.rateLimits.refresh.points, 1), durationSeconds: 60 },
    },
    providerTimeoutSeconds: CONFIG_DEFAULTS.providerTimeoutSeconds,
    logLevel: env.LOG_LEVEL ?? CONFIG_DEFAULTS.logLevel,
    tenants,
  };
  if (problems.length > 0) throw new ConfigError(problems);
  const devIdp = demo
    ? {
        port: devIdpPort,
        issuer: devIdpIssuer,
        clients: [{ client_id: DEMO_CLIENT_ID, client_secret: secrets[DEMO_CLIENT_SECRET_ENV]!, redirect_uris: [`${publicUrl}/v1/auth/oidc/dev/callback`] }],
      }
    : undefined;
  return { server, devIdp };
}
