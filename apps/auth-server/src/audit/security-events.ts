import type { api } from '@aimable/auth-server-kit';
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import { currentRequest } from '../http/request-context.js';
import { newId } from '../ids.js';
import { describeError } from '../logging/logger.js';
import type { Metrics } from '../metrics/metrics.js';
import type { RefreshChannel, SessionEvents } from '../sessions/session-service.js';
import type { AuthStore } from '../store/auth-store.js';

export type AuditEventType = api.AuditEvent['type'];

/** What an audit event is about. It MUST NOT carry a token, code, state, key or secret: none has a field here. */
export interface SecurityEvent {
  type: AuditEventType;
  tenantId: string;
  sessionId?: string;
  userId?: string;
}

/** Events worth a warning in the log: a leaked token, a key used beyond its scope. */
const WARNINGS: ReadonlySet<AuditEventType> = new Set(['refresh_token_reused', 'api_key_refused']);

/**
 * The one place a security event goes: the log, the metrics and the
 * tenant's audit log. The audit row is written before the request is
 * answered, with the request id and client address of the request it
 * happened in. A failed write is logged and counted, and does not fail
 * the request: the user's login or refresh has already committed, and the
 * log line keeps the event.
 */
export class SecurityEvents {
  constructor(
    private readonly store: Pick<AuthStore, 'insertAuditEvent'>,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
    private readonly clock: Clock,
  ) {}

  async record(event: SecurityEvent, detail: Record<string, string> = {}): Promise<void> {
    const request = currentRequest();
    const entry = { event: event.type, tenant: event.tenantId, session_id: event.sessionId, user_id: event.userId, req_id: request?.requestId, ...detail };
    if (WARNINGS.has(event.type)) this.logger.warn(entry, 'security event');
    else this.logger.info(entry, 'security event');
    this.metrics.securityEvent(event.tenantId, event.type);
    try {
      await this.store.insertAuditEvent({
        id: newId('aud'),
        tenantId: event.tenantId,
        type: event.type,
        at: this.clock.now(),
        requestId: request?.requestId ?? null,
        sessionId: event.sessionId ?? null,
        userId: event.userId ?? null,
        clientAddress: request?.clientAddress ?? null,
      });
    } catch (error) {
      this.metrics.auditWriteFailed(event.tenantId);
      this.logger.error({ ...entry, error: describeError(error) }, 'audit event not written');
    }
  }

  /** The hooks of the session service. */
  sessions(): SessionEvents {
    return {
      created: (event) => this.record({ type: 'session_created', ...event }),
      refreshed: ({ channel, ...event }) => this.record({ type: 'session_refreshed', ...event }, { channel }),
      reuseDetected: ({ channel, ...event }) => this.record({ type: 'refresh_token_reused', ...event }, { channel }),
      ended: ({ by, ...event }) => this.record({ type: by, ...event }),
      graceReplay: (event) => this.graceReplay(event),
    };
  }

  /** Logged and counted, not audited: the grant it answers was audited when it was issued. */
  graceReplay(event: { tenantId: string; sessionId: string; channel: RefreshChannel }): void {
    this.metrics.graceReplay(event.tenantId);
    this.logger.info(
      { event: 'refresh_grace_replay', tenant: event.tenantId, session_id: event.sessionId, channel: event.channel, req_id: currentRequest()?.requestId },
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
  unknownApiKey(): void {
    this.metrics.apiKeyRefused('unknown_key');
    this.logger.info({ event: 'api_key_refused', reason: 'unknown_key', req_id: currentRequest()?.requestId }, 'unknown API key refused');
  }

  /** A tenant's own key used beyond its scopes: audited for that tenant. */
  async apiKeyOutOfScope(tenantId: string, keyId: string, scope: string): Promise<void> {
    this.metrics.apiKeyRefused('insufficient_scope');
    await this.record({ type: 'api_key_refused', tenantId }, { key_id: keyId, scope });
  }
}
