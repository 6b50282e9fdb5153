import type { RateLimit, RateLimitedOperation } from '../http/rate-limits.js';
import type { IdempotencyTiming } from '../idempotency/idempotency.js';
import type { TenantConfig } from './tenants.js';

/** Everything the server runs with, validated. Built by `loadServerConfig` from the environment, or by tests directly. */
export interface ServerConfig {
  port: number;
  /** Listen address; undefined listens on all interfaces. */
  host: string | undefined;
  /** The server's external base URL: the access token issuer and the base of provider callbacks. */
  publicUrl: string;
  /** SQLite database file. */
  databaseFile: string;
  /** The key file (created on first start), unless `keys` are given inline. */
  keyFile: string;
  accessTokenAudience: string;
  validateResponses: boolean;
  /** Express `trust proxy`: how client addresses (for rate limits) are read behind a proxy. */
  trustProxy: boolean | number | string;
  loginStateTtlSeconds: number;
  idempotency: IdempotencyTiming;
  rateLimits: Record<RateLimitedOperation, RateLimit>;
  providerTimeoutSeconds: number;
  logLevel: string;
  tenants: TenantConfig[];
}

export const CONFIG_DEFAULTS = {
  port: 8080,
  accessTokenAudience: 'aimable-api',
  loginStateTtlSeconds: 600,
  idempotency: { retentionSeconds: 24 * 3600, lockSeconds: 60 },
  // Per client address and minute: far above what one person's browser does, far below a brute force.
  rateLimits: {
    start: { points: 300, durationSeconds: 60 },
    session: { points: 300, durationSeconds: 60 },
    refresh: { points: 1200, durationSeconds: 60 },
  },
  providerTimeoutSeconds: 10,
  logLevel: 'info',
} as const;
