import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { CheckpointStats, PoolStats } from '../store/runtime.js';

/** The label of a request the contract has no operation for. */
export const UNROUTED = 'unrouted';

/** The label of a refusal that names no known tenant. */
export const NO_TENANT = 'unknown';

/**
 * The server's Prometheus metrics, in a registry of its own: several
 * servers in one process (tests) never share or collide. Labels take only
 * bounded values: operation ids of the contract, statuses, configured
 * tenant ids and event types.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly #requests: Counter<'operation' | 'status'>;
  readonly #durations: Histogram<'operation' | 'status'>;
  readonly #events: Counter<'tenant' | 'type'>;
  readonly #graceReplays: Counter<'tenant'>;
  readonly #idempotentReplays: Counter<'tenant' | 'operation'>;
  readonly #rateLimited: Counter<'tenant' | 'operation'>;
  readonly #apiKeysRefused: Counter<'reason'>;
  readonly #auditWriteFailures: Counter<'tenant'>;
  readonly #storageFailures: Counter<'code'>;
  readonly #storageFailing: Gauge;

  constructor(options: { poolStats?: (() => PoolStats) | undefined; checkpoints?: (() => CheckpointStats) | undefined } = {}) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.#requests = new Counter({ name: 'auth_http_requests_total', help: 'Requests answered, per operation of the contract and status.', labelNames: ['operation', 'status'], registers });
    this.#durations = new Histogram({
      name: 'auth_http_request_duration_seconds',
      help: 'Time to answer a request, per operation of the contract and status.',
      labelNames: ['operation', 'status'],
      // From a cached answer to a slow identity provider (its timeout is 10 s by default).
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.#events = new Counter({
      name: 'auth_security_events_total',
      help: 'Security events per tenant and type, as the audit log records them: logins are type="session_created", refreshes type="session_refreshed", reuse detections type="refresh_token_reused".',
      labelNames: ['tenant', 'type'],
      registers,
    });
    this.#graceReplays = new Counter({ name: 'auth_refresh_grace_replays_total', help: 'Retired refresh tokens answered again within the grace window, per tenant.', labelNames: ['tenant'], registers });
    this.#idempotentReplays = new Counter({ name: 'auth_idempotent_replays_total', help: 'Stored answers replayed for a repeated Idempotency-Key, per tenant and operation.', labelNames: ['tenant', 'operation'], registers });
    this.#rateLimited = new Counter({ name: 'auth_rate_limit_refusals_total', help: 'Requests refused with 429, per tenant (as the request names it) and operation.', labelNames: ['tenant', 'operation'], registers });
    this.#apiKeysRefused = new Counter({ name: 'auth_api_key_refusals_total', help: 'X-API-Key values refused: unknown keys, and keys without the scope of the operation.', labelNames: ['reason'], registers });
    this.#auditWriteFailures = new Counter({ name: 'auth_audit_write_failures_total', help: 'Audit events that could not be written (the request was answered anyway).', labelNames: ['tenant'], registers });
    this.#storageFailures = new Counter({
      name: 'auth_storage_failures_total',
      help: "Writes the database's storage refused, per error code: full (SQLITE_FULL, 53100), failing (SQLITE_IOERR_*, 58030) or read-only (SQLITE_READONLY_*, 25006).",
      labelNames: ['code'],
      registers,
    });
    this.#storageFailing = new Gauge({ name: 'auth_storage_failing', help: "1 while writes fail for want of space or on a failing or read-only disk: /readyz is not ready.", registers });

    const poolStats = options.poolStats;
    if (poolStats) {
      const gauge = (name: string, help: string, pick: (stats: PoolStats) => number) =>
        new Gauge({
          name,
          help,
          registers,
          collect() {
            const stats = poolStats();
            if (stats) this.set(pick(stats));
          },
        });
      gauge('auth_db_pool_connections', 'Connections the database pool holds.', (stats) => stats.total);
      gauge('auth_db_pool_idle_connections', 'Connections of the database pool that are idle.', (stats) => stats.idle);
      gauge('auth_db_pool_waiting_requests', 'Queries waiting for a connection of the database pool.', (stats) => stats.waiting);
      gauge('auth_db_pool_max_connections', 'The most connections the database pool may hold (AUTH_DB_POOL_MAX).', (stats) => stats.max);
    }
    const checkpoints = options.checkpoints;
    if (checkpoints) {
      new Counter({
        name: 'auth_sqlite_checkpoints_total',
        help: "Checkpoints of SQLite's write-ahead log run by the checkpoint worker, per mode: passive (beside the requests), restart (the log rewound).",
        labelNames: ['mode'],
        registers,
        collect() {
          const stats = checkpoints();
          this.reset();
          this.inc({ mode: 'passive' }, stats.passive);
          this.inc({ mode: 'restart' }, stats.restart);
        },
      });
      new Gauge({
        name: 'auth_sqlite_checkpoint_worker_failed',
        help: '1 once the checkpoint worker has failed (it is told in the log) and SQLite checkpoints its log in the commits again, on the event loop.',
        registers,
        collect() {
          this.set(checkpoints().failed ? 1 : 0);
        },
      });
    }
  }

  observeRequest(operation: string | undefined, status: number, seconds: number): void {
    const labels = { operation: operation ?? UNROUTED, status: String(status) };
    this.#requests.inc(labels);
    this.#durations.observe(labels, seconds);
  }

  securityEvent(tenant: string, type: string): void {
    this.#events.inc({ tenant, type });
  }

  graceReplay(tenant: string): void {
    this.#graceReplays.inc({ tenant });
  }

  idempotentReplay(tenant: string, operation: string): void {
    this.#idempotentReplays.inc({ tenant, operation });
  }

  rateLimited(tenant: string | undefined, operation: string | undefined): void {
    this.#rateLimited.inc({ tenant: tenant ?? NO_TENANT, operation: operation ?? UNROUTED });
  }

  apiKeyRefused(reason: 'unknown_key' | 'insufficient_scope'): void {
    this.#apiKeysRefused.inc({ reason });
  }

  auditWriteFailed(tenant: string): void {
    this.#auditWriteFailures.inc({ tenant });
  }

  storageFailure(code: string): void {
    this.#storageFailures.inc({ code });
  }

  storageFailing(failing: boolean): void {
    this.#storageFailing.set(failing ? 1 : 0);
  }

  /** The exposition in Prometheus text format, and its content type. */
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
