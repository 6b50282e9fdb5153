import type { api } from '@aimable/auth-server-kit';
import { invalidRequest } from '../problems.js';
import type { IssuedGrant, SessionPosition } from '../sessions/session-service.js';
import type { AuditEventRecord, SessionRecord, UserRecord } from '../store/schema.js';
import type { AuditEventType } from '../audit/security-events.js';

/** The wire shapes of the domain records: what the contract names, in its words. */

/** The times of the sessions in use come back on every request: each is formatted once (Date's toISOString is slow), up to a bound. */
const formatted = new Map<number, string>();
function iso(ms: number): string {
  let text = formatted.get(ms);
  if (text === undefined) {
    if (formatted.size >= 10_000) formatted.clear();
    text = new Date(ms).toISOString();
    formatted.set(ms, text);
  }
  return text;
}

export function toSession(session: SessionRecord): api.Session {
  return {
    id: session.id,
    provider: session.providerId,
    created_at: iso(session.createdAt),
    last_refreshed_at: iso(session.lastRefreshedAt),
    expires_at: iso(session.expiresAt),
    idle_expires_at: iso(session.idleExpiresAt),
  };
}

export function toUser(user: UserRecord): api.User {
  return { id: user.id, email: user.email, email_verified: user.emailVerified, name: user.name, picture: user.picture };
}

/** A grant as the response body, without the refresh token (which goes in a cookie, or is added for body delivery). */
export function toSessionGrant(issued: IssuedGrant): Omit<api.SessionGrant, 'refresh_token'> {
  return {
    access_token: issued.accessToken,
    token_type: 'Bearer',
    expires_in: issued.expiresIn,
    session: toSession(issued.session),
    user: toUser(issued.user),
  };
}

/** A page of sessions; the cursor names the last one, so the next page starts after it. */
export function toSessionList(page: { sessions: SessionRecord[]; more: boolean }, currentSessionId: string): api.SessionList {
  const last = page.sessions.at(-1);
  return {
    data: page.sessions.map((session) => ({ ...toSession(session), current: session.id === currentSessionId })),
    next_cursor: page.more && last ? encodeCursor({ createdAt: last.createdAt, id: last.id }) : null,
  };
}

/** A page of audit events; the cursor names the last one, as for sessions. */
export function toAuditEventList(page: { events: AuditEventRecord[]; more: boolean }): api.AuditEventList {
  const last = page.events.at(-1);
  return {
    data: page.events.map((event) => ({
      id: event.id,
      tenant: event.tenantId,
      type: event.type as AuditEventType,
      at: iso(event.at),
      count: event.count,
      request_id: event.requestId,
      client_request_id: event.clientRequestId,
      session_id: event.sessionId,
      user_id: event.userId,
      client_address: event.clientAddress,
    })),
    next_cursor: page.more && last ? encodeCursor({ createdAt: last.at, id: last.id }) : null,
  };
}

/** An opaque cursor: the position, base64url-encoded. */
export function encodeCursor(position: SessionPosition): string {
  return Buffer.from(JSON.stringify([position.createdAt, position.id])).toString('base64url');
}

/** The position a cursor names, or 400 `invalid_request` for one this API did not issue. */
export function decodeCursor(cursor: string): SessionPosition {
  try {
    const [createdAt, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    if (Number.isSafeInteger(createdAt) && typeof id === 'string') return { createdAt: createdAt as number, id };
  } catch {
    // fall through
  }
  throw invalidRequest('query.cursor', 'is not a cursor this API issued');
}
