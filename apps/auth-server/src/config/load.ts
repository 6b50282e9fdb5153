import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import type { WritingOperation } from '../http/rate-limits.js';
import { POOL_DEFAULTS, type PoolSettings } from '../store/postgres.js';
import { buildServerConfig, CONFIG_DEFAULTS, type ServerConfig } from './server-config.js';
import { ConfigError } from '../config-error.js';
import { parseTenants, type RawTenantsFile } from './tenants.js';

export interface LoadOptions {
  /**
   * Tenants to run when `AUTH_TENANTS_FILE` is not set, with the client
   * secrets they name: how the demo supplies its own. Without them, the
   * tenants file is required.
   */
  fallbackTenants?: { file: RawTenantsFile; secrets: Record<string, string> };
  /**
   * Keys in the clear, without `AUTH_KEY_ENCRYPTION_SECRET`: `refuse`d
   * unless `AUTH_ALLOW_PLAINTEXT_KEYS=true` (`pnpm serve`, the default),
   * allowed with a `warn`ing, or `allow`ed (the demo tenant's).
   */
  plaintextKeys?: 'refuse' | 'warn' | 'allow';
}

/**
 * Reads the configuration from the environment: the only place that reads
 * `process.env`. Every problem is reported at once, by name.
 */
export function loadServerConfig(env: Record<string, string | undefined>, options: LoadOptions = {}): ServerConfig {
  const problems: string[] = [];
  const integer = (name: string, fallback: number, min = 0) => readInteger(env, problems, name, fallback, min);
  const port = integer('PORT', CONFIG_DEFAULTS.port);
  const publicUrl = env.AUTH_PUBLIC_URL || undefined;
  if (publicUrl !== undefined && !/^https?:\/\//.test(publicUrl)) problems.push('AUTH_PUBLIC_URL must be an absolute http(s) URL');

  const tenantsFile = env.AUTH_TENANTS_FILE || undefined;
  let rawTenants: unknown;
  let secrets: Record<string, string | undefined> = env;
  if (tenantsFile !== undefined) {
    try {
      rawTenants = JSON.parse(readFileSync(tenantsFile, 'utf8'));
    } catch (error) {
      problems.push(`AUTH_TENANTS_FILE ${tenantsFile} cannot be read as JSON: ${(error as Error).message}`);
    }
  } else if (options.fallbackTenants) {
    rawTenants = options.fallbackTenants.file;
    secrets = { ...options.fallbackTenants.secrets, ...env };
  } else {
    problems.push('AUTH_TENANTS_FILE must name the tenants file (see README, "Configuration"); `pnpm start` runs the demo instead');
  }
  let tenants: ServerConfig['tenants'] = [];
  if (rawTenants !== undefined) {
    try {
      tenants = parseTenants(rawTenants, secrets);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      problems.push(...error.problems);
    }
  }
  const validateResponses = parseBoolean(env, 'AUTH_VALIDATE_RESPONSES', env.NODE_ENV !== 'production', problems);
  const trustProxy = parseTrustProxy(env.AUTH_TRUST_PROXY, problems);
  const rateLimit = (operation: WritingOperation, name: string) => ({
    points: integer(`AUTH_RATE_LIMIT_${name}_PER_MINUTE`, CONFIG_DEFAULTS.rateLimits[operation].points, 1),
    globalPoints: integer(`AUTH_RATE_LIMIT_${name}_GLOBAL_PER_MINUTE`, CONFIG_DEFAULTS.rateLimits[operation].globalPoints, 1),
  });
  const metricsPort = env.AUTH_METRICS_PORT === undefined || env.AUTH_METRICS_PORT === '' ? undefined : integer('AUTH_METRICS_PORT', 0);
  if (metricsPort !== undefined && metricsPort > 65_535) problems.push('AUTH_METRICS_PORT must be a port number (0 to 65535)');
  const auditRetentionDays = integer('AUTH_AUDIT_RETENTION_DAYS', CONFIG_DEFAULTS.auditRetentionDays, 1);
  const rateLimits = {
    start: rateLimit('start', 'START'),
    session: rateLimit('session', 'SESSION'),
    refresh: rateLimit('refresh', 'REFRESH'),
    api: { points: integer('AUTH_RATE_LIMIT_API_PER_MINUTE', CONFIG_DEFAULTS.rateLimits.api.points, 1) },
  };
  const storage = loadStorageSettings(env, problems);
  const migrateOnStart = parseBoolean(env, 'AUTH_MIGRATE_ON_START', true, problems);
  const keyRefreshSeconds = integer('AUTH_KEY_REFRESH_SECONDS', CONFIG_DEFAULTS.keyRefreshSeconds, 1);
  // Keys in the clear are as safe as the database's files and backups: in production only when the operator says so.
  const plaintextKeysAllowed = parseBoolean(env, 'AUTH_ALLOW_PLAINTEXT_KEYS', false, problems);
  const plaintextKeys = options.plaintextKeys ?? 'refuse';
  const warnPlaintextKeys = storage.keyEncryptionSecret === undefined && plaintextKeys !== 'allow';
  if (warnPlaintextKeys && plaintextKeys === 'refuse' && !plaintextKeysAllowed) {
    problems.push(
      'AUTH_KEY_ENCRYPTION_SECRET must be set (at least 32 characters, for example `openssl rand -base64 32`): it seals the signing and sealing keys in the database. ' +
        'AUTH_ALLOW_PLAINTEXT_KEYS=true stores them in the clear instead',
    );
  }
  if (problems.length > 0) throw new ConfigError(problems);

  return buildServerConfig({
    port,
    host: env.HOST || undefined,
    publicUrl,
    ...storage,
    migrateOnStart,
    keyRefreshSeconds,
    accessTokenAudience: env.AUTH_ACCESS_TOKEN_AUDIENCE || undefined,
    validateResponses,
    trustProxy,
    rateLimits,
    logLevel: env.LOG_LEVEL || undefined,
    tenants,
    metricsPort,
    metricsHost: env.AUTH_METRICS_HOST || undefined,
    metricsToken: env.AUTH_METRICS_TOKEN || undefined,
    auditRetentionDays,
    warnPlaintextKeys,
  });
}

/** Where the store is and how to open it: for the server and for `pnpm migrate` and `pnpm rotate-keys` alike. */
export interface StorageSettings {
  dataDir: string;
  databaseUrl: string | undefined;
  pool: PoolSettings;
  keyEncryptionSecret: string | undefined;
}

/** The storage settings from the environment; problems are added to `problems`. */
export function loadStorageSettings(env: Record<string, string | undefined>, problems: string[]): StorageSettings {
  const integer = (name: string, fallback: number, min: number) => readInteger(env, problems, name, fallback, min);
  const databaseUrl = env.DATABASE_URL || undefined;
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(databaseUrl)) problems.push('DATABASE_URL must be a postgres:// URL (unset, the server uses SQLite in AUTH_DATA_DIR)');
  const keyEncryptionSecret = env.AUTH_KEY_ENCRYPTION_SECRET || undefined;
  if (keyEncryptionSecret !== undefined && keyEncryptionSecret.length < 32) problems.push('AUTH_KEY_ENCRYPTION_SECRET must be at least 32 characters (for example `openssl rand -base64 32`)');
  return {
    dataDir: resolve(env.AUTH_DATA_DIR || 'data'),
    databaseUrl,
    pool: {
      max: integer('AUTH_DB_POOL_MAX', POOL_DEFAULTS.max, 1),
      acquireTimeoutMs: integer('AUTH_DB_ACQUIRE_TIMEOUT_MS', POOL_DEFAULTS.acquireTimeoutMs, 1),
      statementTimeoutMs: integer('AUTH_DB_STATEMENT_TIMEOUT_MS', POOL_DEFAULTS.statementTimeoutMs, 1),
      idleTimeoutMs: POOL_DEFAULTS.idleTimeoutMs,
    },
    keyEncryptionSecret,
  };
}

/** An integer variable of at least `min`, or `fallback` when unset; a problem is added otherwise. */
function readInteger(env: Record<string, string | undefined>, problems: string[], name: string, fallback: number, min: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) problems.push(`${name} must be an integer of at least ${min}`);
  return value;
}

function parseBoolean(env: Record<string, string | undefined>, name: string, fallback: boolean, problems: string[]): boolean {
  const raw = env[name]?.trim().toLowerCase();
  if (raw === undefined || raw === '') return fallback;
  if (['true', '1', 'yes', 'on'].includes(raw)) return true;
  if (['false', '0', 'no', 'off'].includes(raw)) return false;
  problems.push(`${name} must be true or false`);
  return fallback;
}

const TRUST_PRESETS = new Set(['loopback', 'linklocal', 'uniquelocal']);

/**
 * `AUTH_TRUST_PROXY`: `true` (trust every hop: only when the server is
 * reachable through the proxy alone), `false`, a hop count, or a
 * comma-separated list of proxy addresses, CIDR ranges and the presets
 * `loopback`, `linklocal` and `uniquelocal`.
 */
export function parseTrustProxy(raw: string | undefined, problems: string[]): boolean | number | string[] {
  const value = raw?.trim() ?? '';
  if (value === '' || /^(false|off|no|0)$/i.test(value)) return false;
  if (/^(true|on|yes)$/i.test(value)) return true;
  if (/^\d+$/.test(value)) return Number(value);
  const entries = value.split(',').map((entry) => entry.trim());
  const bad = entries.filter((entry) => !TRUST_PRESETS.has(entry) && !isAddressOrRange(entry));
  if (bad.length > 0) {
    problems.push(`AUTH_TRUST_PROXY must be true, false, a hop count, or addresses, CIDR ranges and loopback/linklocal/uniquelocal; not ${bad.join(', ')}`);
    return false;
  }
  return entries;
}

function isAddressOrRange(entry: string): boolean {
  const [address, prefix, ...rest] = entry.split('/');
  if (rest.length > 0 || !address) return false;
  const family = isIP(address);
  if (family === 0) return false;
  if (prefix === undefined) return true;
  const bits = Number(prefix);
  return /^\d+$/.test(prefix) && bits <= (family === 4 ? 32 : 128);
}
