import { join } from 'node:path';
import type { RateLimitSettings, RateLimitedOperation } from '../http/rate-limits.js';
import type { IdempotencyTiming } from '../idempotency/idempotency.js';
import { POOL_DEFAULTS, type PoolSettings } from '../store/postgres.js';
import type { TenantConfig } from '../tenants/tenant.js';

/** Everything the server runs with, validated. Built by `buildServerConfig`, from the environment or by tests. */
export interface ServerConfig {
  port: number;
  /** Listen address; undefined listens on all interfaces. */
  host: string | undefined;
  /** The server's external base URL: the access token issuer and the base of provider callbacks. */
  publicUrl: string;
  /** SQLite database file, used when there is no `databaseUrl`. */
  databaseFile: string;
  /** The key file of a release that kept its keys beside the SQLite database: imported as the first keys, if it exists. */
  keyFile: string;
  /** PostgreSQL (`postgres://…`): the store of every instance. Undefined: the embedded SQLite file. */
  databaseUrl: string | undefined;
  /** The PostgreSQL pool of this instance. */
  pool: PoolSettings;
  /** Bring the schema up to date on start; when false, a schema that lacks a migration is refused (`pnpm migrate`). */
  migrateOnStart: boolean;
  /** Seals the keys stored in the database. */
  keyEncryptionSecret: string | undefined;
  /** Warn at start that the keys are stored in the clear: the operator allowed it (`AUTH_ALLOW_PLAINTEXT_KEYS`). */
  warnPlaintextKeys: boolean;
  /** How often each instance reads the keys again, to take up a rotation. */
  keyRefreshSeconds: number;
  accessTokenAudience: string;
  validateResponses: boolean;
  /** Express `trust proxy`: how client addresses (for rate limits) are read behind a proxy. */
  trustProxy: boolean | number | string[];
  loginStateTtlSeconds: number;
  idempotency: IdempotencyTiming;
  rateLimits: RateLimitSettings;
  providerTimeoutSeconds: number;
  /** How long a provider's discovery document is trusted before it is fetched again. */
  providerDiscoveryTtlSeconds: number;
  logLevel: string;
  tenants: TenantConfig[];
  /** The admin listener of `GET /metrics`; undefined: none. */
  metricsPort: number | undefined;
  /** Its address: loopback unless told otherwise, so that metrics are not public by accident. */
  metricsHost: string;
  /** When set, scrapes must send `Authorization: Bearer <token>`. */
  metricsToken: string | undefined;
  /** How long audit events are kept. */
  auditRetentionDays: number;
}

export const CONFIG_DEFAULTS = {
  port: 8080,
  accessTokenAudience: 'aimable-api',
  loginStateTtlSeconds: 600,
  idempotency: { retentionSeconds: 24 * 3600, lockSeconds: 60 },
  // Per client address, and for all clients together, per minute: far above what one person's
  // browser does, far below a brute force; the global caps bound what spread-out clients can store.
  rateLimits: {
    start: { points: 300, globalPoints: 6_000, durationSeconds: 60 },
    session: { points: 300, globalPoints: 6_000, durationSeconds: 60 },
    refresh: { points: 1_200, globalPoints: 60_000, durationSeconds: 60 },
    // Every other call with an API key or an access token, together: a page's calls many times over.
    api: { points: 3_000, durationSeconds: 60 },
  },
  providerTimeoutSeconds: 10,
  providerDiscoveryTtlSeconds: 3600,
  logLevel: 'info',
  keyRefreshSeconds: 60,
  metricsHost: '127.0.0.1',
  auditRetentionDays: 90,
} as const;

/** What a configuration must say; everything else has a documented default. */
export interface ServerConfigInput extends Partial<Omit<ServerConfig, 'databaseFile' | 'keyFile' | 'rateLimits' | 'pool'>> {
  pool?: Partial<PoolSettings>;
  tenants: TenantConfig[];
  /** The directory of the database and the key file. */
  dataDir: string;
  rateLimits?: { [O in RateLimitedOperation]?: Partial<RateLimitSettings[O]> };
}

/** The one builder of the server configuration: for the entry points, the tests and the benchmarks alike. */
export function buildServerConfig(input: ServerConfigInput): ServerConfig {
  const { dataDir, rateLimits, pool, ...rest } = input;
  // An option given as undefined takes its default.
  const given = Object.fromEntries(Object.entries(rest).filter(([, value]) => value !== undefined)) as typeof rest;
  const port = given.port ?? CONFIG_DEFAULTS.port;
  const limit = <O extends RateLimitedOperation>(operation: O): RateLimitSettings[O] => ({ ...CONFIG_DEFAULTS.rateLimits[operation], ...rateLimits?.[operation] }) as RateLimitSettings[O];
  return {
    host: undefined,
    accessTokenAudience: CONFIG_DEFAULTS.accessTokenAudience,
    validateResponses: true,
    trustProxy: false,
    loginStateTtlSeconds: CONFIG_DEFAULTS.loginStateTtlSeconds,
    idempotency: { ...CONFIG_DEFAULTS.idempotency },
    providerTimeoutSeconds: CONFIG_DEFAULTS.providerTimeoutSeconds,
    providerDiscoveryTtlSeconds: CONFIG_DEFAULTS.providerDiscoveryTtlSeconds,
    logLevel: CONFIG_DEFAULTS.logLevel,
    databaseUrl: undefined,
    migrateOnStart: true,
    keyEncryptionSecret: undefined,
    warnPlaintextKeys: false,
    keyRefreshSeconds: CONFIG_DEFAULTS.keyRefreshSeconds,
    metricsPort: undefined,
    metricsHost: CONFIG_DEFAULTS.metricsHost,
    metricsToken: undefined,
    auditRetentionDays: CONFIG_DEFAULTS.auditRetentionDays,
    ...given,
    pool: { ...POOL_DEFAULTS, ...pool },
    port,
    publicUrl: (given.publicUrl ?? `http://localhost:${port}`).replace(/\/+$/, ''),
    databaseFile: join(dataDir, 'auth.sqlite'),
    keyFile: join(dataDir, 'keys.json'),
    rateLimits: { start: limit('start'), session: limit('session'), refresh: limit('refresh'), api: limit('api') },
  };
}
