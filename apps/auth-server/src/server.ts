import { createHttpServer } from '@aimable/auth-server-kit';
import type { AddressInfo } from 'node:net';
import type { DestinationStream } from 'pino';
import { systemClock, type Clock } from './clock.js';
import { AuditLog } from './audit/audit-log.js';
import { SecurityEvents } from './audit/security-events.js';
import type { ServerConfig } from './config/server-config.js';
import { createApp } from './http/app.js';
import { Callers } from './http/caller.js';
import { createHandlers } from './http/handlers.js';
import { RateLimits } from './http/rate-limits.js';
import { Idempotency } from './idempotency/idempotency.js';
import { LoginService } from './login/login-service.js';
import { createLoggers, describeError } from './logging/logger.js';
import { startMetricsListener, type RunningMetricsListener } from './metrics/metrics-listener.js';
import { Metrics } from './metrics/metrics.js';
import { ProviderClients } from './oidc/provider-client.js';
import { SessionService } from './sessions/session-service.js';
import { ProviderLogout } from './sessions/provider-logout.js';
import { openStore } from './store/open.js';
import type { AuthStore } from './store/auth-store.js';
import { requestsWaitingForConnection } from './store/runtime.js';
import type { SyncLog } from './store/sqlite/group-commit.js';
import { StorageHealth } from './health/storage-health.js';
import { TenantRegistry } from './tenants/tenant-registry.js';
import { AccessTokens } from './tokens/access-tokens.js';
import { KeyRing } from './tokens/key-ring.js';
import { readKeyFile } from './tokens/key-material.js';

export interface StartOptions {
  config: ServerConfig;
  clock?: Clock;
  /** Where JSON logs go. Default: stdout. */
  logDestination?: DestinationStream;
  /** How SQLite's write-ahead log is made durable. Default: `fdatasync`; tests stand in for a disk that is slow or fails. */
  syncLog?: SyncLog;
}

export interface RunningServer {
  url: string;
  port: number;
  store: AuthStore;
  /** The signing and sealing keys this instance uses now. */
  keys: KeyRing;
  /** The admin listener's `GET /metrics` URL, when `metricsPort` is set. */
  metricsUrl?: string;
  /** Stops accepting requests, waits for those in flight, and closes the database. */
  close(): Promise<void>;
}

/** Grace grants must not outlive their 10-second window by much; the sweep is cheap (indexed). */
const PRUNE_INTERVAL_MS = 30 * 1000;
/** How often the repeats of coalesced audit events (a public key's refusals) are added to their rows. */
const REPEAT_FLUSH_INTERVAL_MS = 5 * 1000;
/** Clock skew allowed between this server and those who verify its tokens. */
const CLOCK_SKEW_MS = 60 * 1000;

/** Starts the auth server; tests own its lifecycle through the returned handle. */
export async function startServer(options: StartOptions): Promise<RunningServer> {
  const { config } = options;
  const clock = options.clock ?? systemClock;
  const { logger, requests: requestLogger } = createLoggers(config.logLevel, options.logDestination);
  // Made once the metrics are; a failure of the checkpoint worker before then is logged as any other.
  let storage: StorageHealth | undefined;
  const { store, runtime, pool } = await openStore(
    config,
    {
      onConnectionError: (error) => logger.warn({ error: describeError(error) }, 'a database connection failed; the pool replaces it'),
      onBackgroundError: (error) => {
        // A full disk is told once, by `storage`: the worker's stop is then a consequence, not news.
        const level = storage?.observe(error) ? 'warn' : 'error';
        logger[level]({ error: describeError(error) }, 'the checkpoint worker failed; SQLite checkpoints its log in the commits again');
      },
    },
    options.syncLog,
  );
  let keys: KeyRing;
  try {
    const legacyKeys = config.databaseUrl === undefined ? readKeyFile(config.keyFile) : undefined;
    if (legacyKeys) logger.warn({ file: config.keyFile }, 'the keys of this file are in the database now (its first generation): it is no longer read, and should be deleted');
    keys = await KeyRing.open(store, clock, {
      encryptionSecret: config.keyEncryptionSecret,
      refreshMs: config.keyRefreshSeconds * 1000,
      publishOverlapMs: Math.max(...config.tenants.map((tenant) => tenant.sessionPolicy.accessTokenTtlSeconds)) * 1000 + CLOCK_SKEW_MS,
      // Nothing on the local disk when the store is shared; a single SQLite instance imports its earlier key file once.
      legacyKeys,
    });
  } catch (error) {
    await store.close();
    throw error;
  }
  if (config.warnPlaintextKeys) {
    logger.warn('the signing and sealing keys are stored in the clear (AUTH_ALLOW_PLAINTEXT_KEYS): whoever reads the database or a backup of it can sign access tokens. Set AUTH_KEY_ENCRYPTION_SECRET');
  }
  keys.startRefreshing((error) => logger.error({ error: describeError(error) }, 'reading the keys again failed; the ones loaded stay in use'));

  const metrics = new Metrics({ poolStats: runtime.poolStats, checkpoints: runtime.checkpoints });
  // A full or read-only disk is told once, counted, and makes the instance not ready until a write succeeds again.
  storage = new StorageHealth(config.databaseUrl === undefined ? config.databaseFile : 'the PostgreSQL database', logger, metrics, clock.now, () => store.probeWrite());
  // Every security event is logged, counted and written to its tenant's audit log here, and only here.
  const events = new SecurityEvents(store, metrics, logger, clock, storage);
  const tenants = new TenantRegistry(config.tenants);
  const providers = new ProviderClients({ timeoutSeconds: config.providerTimeoutSeconds, discoveryTtlSeconds: config.providerDiscoveryTtlSeconds }, clock);
  const sealer = keys.sealing;
  const accessTokens = new AccessTokens(keys, config.publicUrl, config.accessTokenAudience, (tenantId) => tenants.find(tenantId)?.sessionPolicy.accessTokenTtlSeconds);
  const login = new LoginService(store, tenants, providers, clock, { publicUrl: config.publicUrl, stateTtlSeconds: config.loginStateTtlSeconds }, {
    completed: ({ tenantId, origin }) => events.record({ type: 'login', tenantId, origin }),
  });
  const sessions = new SessionService(store, tenants, providers, accessTokens, sealer, clock, (id) => login.callbackUrl(id), events.sessions());
  const providerLogout = new ProviderLogout(store, tenants, providers, sessions, sealer, clock, events.sessions(), (error) =>
    logger.warn({ error: describeError(error) }, "the provider's end-session URL could not be made: the session is revoked, and the logout answers no URL"),
  );
  const idempotency = new Idempotency(store, sealer, clock, config.idempotency, (tenantId, operation) => events.idempotentReplay(tenantId, operation));
  const callers = new Callers({ tenants, accessTokens, sessions, clock, events });
  let draining = false;
  const limits = new RateLimits(config.rateLimits, {
    pool,
    trustsProxy: config.trustProxy !== false,
    warnUntrustedProxy: () =>
      logger.warn('X-Forwarded-For arrives but AUTH_TRUST_PROXY is off: every client behind that proxy shares one rate limit. Set AUTH_TRUST_PROXY to the proxy.'),
  });
  const handlers = createHandlers({
    login,
    sessions,
    providerLogout,
    idempotency,
    tenants,
    callers,
    accessTokens,
    limits,
    store,
    waitingForConnection: () => requestsWaitingForConnection(runtime),
    storage,
    audit: new AuditLog(store),
    isDraining: () => draining,
    keysStale: () => keys.isStale(),
  });
  const app = createApp({ handlers, tenants, callers, limits, logger, requestLogger, metrics, validateResponses: config.validateResponses, trustProxy: config.trustProxy, storage, settle: runtime.settle });

  const server = createHttpServer(app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    const onListening = () => {
      server.off('error', reject);
      // An error of the listening socket (accept failing for want of file descriptors, say) is logged; Node goes on accepting.
      server.on('error', (error) => logger.error({ error: describeError(error) }, 'the listening socket failed'));
      resolve();
    };
    // Without a host, Node listens on every interface, IPv6 and IPv4, or IPv4 alone where IPv6 is off.
    if (config.host === undefined) server.listen(config.port, onListening);
    else server.listen(config.port, config.host, onListening);
  });
  const { port } = server.address() as AddressInfo;
  let metricsListener: RunningMetricsListener | undefined;
  if (config.metricsPort !== undefined) {
    if (config.metricsToken === undefined && !['127.0.0.1', '::1', 'localhost'].includes(config.metricsHost)) {
      logger.warn({ metrics_host: config.metricsHost }, 'metrics are served beyond loopback without AUTH_METRICS_TOKEN: anyone who reaches the port can read them');
    }
    try {
      metricsListener = await startMetricsListener(metrics, { port: config.metricsPort, host: config.metricsHost, token: config.metricsToken });
    } catch (error) {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await store.close();
      throw error;
    }
  }
  const auditRetentionMs = config.auditRetentionDays * 24 * 3600 * 1000;
  const prune = () => {
    store.prune(clock.now(), auditRetentionMs).catch((error: unknown) => {
      if (!storage.observe(error)) logger.error({ error: describeError(error) }, 'prune failed');
    });
  };
  prune();
  const pruning = setInterval(prune, PRUNE_INTERVAL_MS);
  pruning.unref();
  const flushRepeats = () => events.flushRepeats().catch((error: unknown) => logger.error({ error: describeError(error) }, 'counting repeated audit events failed'));
  const flushingRepeats = setInterval(flushRepeats, REPEAT_FLUSH_INTERVAL_MS);
  flushingRepeats.unref();
  logger.info({ port, public_url: config.publicUrl, metrics_url: metricsListener?.url, tenants: config.tenants.map((t) => t.id) }, 'listening');

  let closing: Promise<void> | undefined;
  return {
    url: `http://localhost:${port}`,
    port,
    store,
    keys,
    ...(metricsListener ? { metricsUrl: metricsListener.url } : {}),
    close: () => {
      closing ??= (async () => {
        draining = true;
        clearInterval(pruning);
        keys.stop();
        // Stops accepting connections; requests in flight finish, then their keep-alive connections close.
        const sweep = setInterval(() => server.closeIdleConnections(), 50);
        await new Promise<void>((resolve) => server.close(() => resolve()));
        clearInterval(sweep);
        clearInterval(flushingRepeats);
        storage.stop();
        // Every refusal counted until the last request is in its row.
        await flushRepeats();
        await metricsListener?.close();
        await store.close();
        logger.info('stopped');
        await new Promise<void>((resolve) => logger.flush(() => resolve()));
      })();
      return closing;
    },
  };
}
