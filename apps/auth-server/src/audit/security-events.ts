import type { api } from '@aimable/auth-server-kit';
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { RequestOrigin } from '../request-origin.js';
import { newId } from '../ids.js';
import { clientKey } from '../request-origin.js';
import { describeError } from '../logging/logger.js';
import type { Metrics } from '../metrics/metrics.js';
import type { RefreshChannel, SessionEvents } from '../sessions/session-service.js';
import type { AuthStore, StoreOperations } from '../store/auth-store.js';
import type { StorageHealth } from '../health/storage-health.js';
import { RepeatedEvents } from './repeated-events.js';

export type AuditEventType = api.AuditEvent['type'];

/** What an audit event is about. It MUST NOT carry a token, code, state, key or secret: none has a field here. */
export interface SecurityEvent {
  type: AuditEventType;
  tenantId: string;
  sessionId?: string;
  userId?: string;
  /** The request it happened in. */
  origin?: RequestOrigin | undefined;
}

/** Events worth a warning in the log: a leaked token, a key used beyond its scope. */
const WARNINGS: ReadonlySet<AuditEventType> = new Set(['refresh_token_reused', 'api_key_refused']);

/**
 * The one place a security event goes: the log, the metrics and the
 * tenant's audit log, with the request id and client address of the
 * request it happened in. A session's creation and a refresh are written
 * in the transaction that makes them: they commit together or not at all.
 * The other events are written once what they record has committed; a
 * failed write of those is logged and counted, and does not fail the
 * request (what it did has committed, and the log line keeps the event).
 */
export class SecurityEvents {
  readonly #repeated: RepeatedEvents;

  constructor(
    private readonly store: Pick<AuthStore, 'insertAuditEvent' | 'countAuditEvent'>,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
    private readonly clock: Clock,
    /** Told of failed writes: a full disk is logged once there, not once per event. */
    private readonly storage?: Pick<StorageHealth, 'observe'>,
  ) {
    this.#repeated = new RepeatedEvents(store);
  }

  /** A row not written: counted, and logged unless the storage failed (it says so once). The event's own log line keeps it. */
  #notWritten(tenantId: string, entry: Record<string, unknown>, error: unknown): void {
    this.metrics.auditWriteFailed(tenantId);
    if (this.storage?.observe(error)) return;
    this.logger.error({ ...entry, error: describeError(error) }, 'audit event not written');
  }

  /**
   * With `tx`, the row is written in that transaction: it commits with what
   * it records, or not at all, and a failure to write it fails the
   * transaction.
   */
  async record(event: SecurityEvent, detail: Record<string, string> = {}, tx?: Pick<StoreOperations, 'insertAuditEvent'>): Promise<void> {
    const request = event.origin;
    const entry = { event: event.type, tenant: event.tenantId, session_id: event.sessionId, user_id: event.userId, ...requestFields(request), ...detail };
    if (WARNINGS.has(event.type)) this.logger.warn(entry, 'security event');
    else this.logger.info(entry, 'security event');
    this.metrics.securityEvent(event.tenantId, event.type);
    const row = {
      id: newId('aud'),
      tenantId: event.tenantId,
      type: event.type,
      at: this.clock.now(),
      requestId: request?.requestId ?? null,
      clientRequestId: request?.clientRequestId ?? null,
      sessionId: event.sessionId ?? null,
      userId: event.userId ?? null,
      clientAddress: request?.clientAddress ?? null,
    };
    if (tx) {
      await tx.insertAuditEvent(row);
      return;
    }
    try {
      await this.store.insertAuditEvent(row);
    } catch (error) {
      this.#notWritten(event.tenantId, entry, error);
    }
  }

  /** The hooks of the session service. */
  sessions(): SessionEvents {
    return {
      created: (event, tx) => this.record({ type: 'session_created', ...event }, {}, tx),
      refreshed: ({ channel, ...event }, tx) => this.record({ type: 'session_refreshed', ...event }, { channel }, tx),
      reuseDetected: ({ channel, ...event }) => this.record({ type: 'refresh_token_reused', ...event }, { channel }),
      ended: ({ by, ...event }) => this.record({ type: by, ...event }),
      graceReplay: (event) => this.graceReplay(event),
    };
  }

  /** Logged and counted, not audited: the grant it answers was audited when it was issued. */
  graceReplay(event: { tenantId: string; sessionId: string; channel: RefreshChannel; origin?: RequestOrigin | undefined }): void {
    this.metrics.graceReplay(event.tenantId);
    this.logger.info(
      { event: 'refresh_grace_replay', tenant: event.tenantId, session_id: event.sessionId, channel: event.channel, ...requestFields(event.origin) },
      'retired refresh token answered within the grace window',
    );
  }

  idempotentReplay(tenantId: string, operation: string): void {
    this.metrics.idempotentReplay(tenantId, operation);
  }

  /**
   * A key of no tenant cannot go in a tenant's log, and writing a row for
   * every unknown key would let anyone fill the database: it is logged and
   * counted only.
   */
  unknownApiKey(origin?: RequestOrigin): void {
    this.metrics.apiKeyRefused('unknown_key');
    this.logger.info({ event: 'api_key_refused', reason: 'unknown_key', ...requestFields(origin) }, 'unknown API key refused');
  }

  /**
   * A tenant's own key used beyond its scopes: audited for that tenant, and
   * counted in metrics each time. A key that ships in browsers can be
   * refused at will by anyone, so the refusals of one key, scope and client
   * are one audit row (and one log line) per minute, with their count.
   */
  async apiKeyOutOfScope(tenantId: string, keyId: string, scope: string, origin?: RequestOrigin): Promise<void> {
    const type = 'api_key_refused';
    this.metrics.apiKeyRefused('insufficient_scope');
    this.metrics.securityEvent(tenantId, type);
    const client = origin?.clientAddress === undefined ? 'unknown' : clientKey(origin.clientAddress);
    const entry = { event: type, tenant: tenantId, key_id: keyId, scope, ...requestFields(origin) };
    try {
      const counted = await this.#repeated.count([tenantId, type, scope, keyId].join('\n'), client, {
        tenantId,
        type,
        at: this.clock.now(),
        requestId: origin?.requestId ?? null,
        clientRequestId: origin?.clientRequestId ?? null,
        sessionId: null,
        userId: null,
        clientAddress: origin?.clientAddress ?? null,
      });
      if (counted === 'first') this.logger.warn(entry, 'security event');
    } catch (error) {
      this.logger.warn(entry, 'security event');
      this.#notWritten(tenantId, entry, error);
    }
  }

  /** Adds the repeats counted since the last time to their rows; one log line per row. Run every few seconds, and at shutdown. */
  async flushRepeats(): Promise<void> {
    const { added, failed } = await this.#repeated.flush(this.clock.now());
    for (const { row, count } of added) {
      this.logger.info({ event: row.type, tenant: row.tenantId, audit_id: row.id, repeats: count }, 'security event repeated');
    }
    for (const error of failed) {
      if (!this.storage?.observe(error)) this.logger.error({ error: describeError(error) }, 'repeated audit events not counted yet; retried at the next flush');
    }
  }
}

/** A request's ids as log lines carry them: the server's, and the client's own, if it sent one, apart. */
export function requestFields(origin: RequestOrigin | undefined): { req_id?: string; client_req_id?: string } {
  return {
    ...(origin?.requestId === undefined ? {} : { req_id: origin.requestId }),
    ...(origin?.clientRequestId === undefined ? {} : { client_req_id: origin.clientRequestId }),
  };
}
