import type {
  AuditEventRecord,
  IdempotencyRecord,
  LoginStateRecord,
  NewAuditEvent,
  NewLoginState,
  NewLogoutTokenJti,
  NewSessionIdToken,
  NewRefreshToken,
  NewSession,
  NewUser,
  RefreshTokenRecord,
  ServerKeyRecord,
  SessionRecord,
  UserRecord,
} from './schema.js';

/** The outcome of claiming an idempotency key. */
export type IdempotencyClaimResult =
  | { kind: 'claimed' }
  | { kind: 'completed'; record: IdempotencyRecord }
  | { kind: 'mismatch' }
  | { kind: 'in_flight'; lockedUntil: number };

/** Where an idempotency key lives: its operation and its subject (what only the caller holds), then the key itself. */
export interface IdempotencyKeyRef {
  operation: string;
  subject: string;
  key: string;
}

/** A key as it is claimed: with the tenant its record belongs to. */
export interface IdempotencyScope extends IdempotencyKeyRef {
  tenantId: string;
}

export interface SessionPage {
  after?: { createdAt: number; id: string };
  limit: number;
}

/** Where a page of audit events starts: after the event at `at` with this id. */
export interface AuditEventPage {
  after?: { at: number; id: string };
  limit: number;
}

/**
 * What the services need from storage, by use case. Every method that
 * changes state is safe under concurrent requests on its own; compose
 * several in `transaction` when they must commit together.
 */
export interface StoreOperations {
  insertLoginState(row: NewLoginState): Promise<void>;
  /** A state that exists, is not consumed and has not expired. */
  findLiveLoginState(stateHash: string, now: number): Promise<LoginStateRecord | undefined>;
  /** A state that exists and has not expired, consumed or not. */
  findLoginState(stateHash: string, now: number): Promise<LoginStateRecord | undefined>;
  /**
   * Records the provider's first return to the callback with a live state,
   * with the user's name if it sent one; false when it returned before (or
   * the state is not live), and then nothing changes.
   */
  markLoginReturned(stateHash: string, now: number, name?: string | null): Promise<boolean>;
  /** Marks the state consumed if it is live and of this tenant; undefined when another request won or it is not live. */
  consumeLoginState(stateHash: string, tenantId: string, now: number): Promise<LoginStateRecord | undefined>;
  /** Undoes a consumption that did not lead to a session (the provider could not be reached). */
  restoreLoginState(stateHash: string, consumedAt: number): Promise<void>;

  /** Inserts the user, or updates its profile when (tenant, issuer, subject) exists (a null name keeps the stored one); returns the stored row. */
  upsertUser(user: NewUser): Promise<UserRecord>;
  findUser(tenantId: string, userId: string): Promise<UserRecord | undefined>;

  insertSession(session: NewSession): Promise<void>;
  findSession(tenantId: string, sessionId: string): Promise<SessionRecord | undefined>;
  /** A session and its user, read together (every request with an access token needs both); undefined when either is missing. */
  findSessionWithUser(tenantId: string, sessionId: string): Promise<{ session: SessionRecord; user: UserRecord } | undefined>;
  /** Records a refresh on a live session; false when it was revoked or had expired by `now`. */
  touchSession(tenantId: string, sessionId: string, now: number, idleExpiresAt: number): Promise<boolean>;
  /** Revokes a live session, and drops its ID token; false when it was not live. */
  revokeSession(tenantId: string, sessionId: string, reason: string, now: number): Promise<boolean>;
  /**
   * Revokes the live sessions a provider's back-channel logout names, and
   * drops their ID tokens: the one of its session `sid`, or, without one,
   * every session of its user `subject`; with both, only that session and
   * only if it is that user's. Returns the sessions revoked.
   */
  revokeProviderSessions(
    tenantId: string,
    providerId: string,
    match: { issuer: string; sid?: string | undefined; subject?: string | undefined },
    reason: string,
    now: number,
  ): Promise<{ id: string; userId: string }[]>;
  /** Keeps a session's sealed ID token, for the provider's end-session request. */
  insertSessionIdToken(row: NewSessionIdToken): Promise<void>;
  /** The sealed ID token kept for the session; undefined when none is (the session ended, or began before they were kept). */
  findSessionIdToken(tenantId: string, sessionId: string): Promise<string | undefined>;
  /** Records a logout token's `jti` for its tenant and provider; false when it is recorded already and not expired (a replay). */
  recordLogoutTokenJti(row: NewLogoutTokenJti, now: number): Promise<boolean>;
  /** Active sessions of a user, newest first. */
  listActiveSessions(tenantId: string, userId: string, now: number, page: SessionPage): Promise<SessionRecord[]>;

  insertRefreshToken(token: NewRefreshToken): Promise<void>;
  /** The tenant's token with this hash: another tenant's is not found. */
  findRefreshTokenByHash(tenantId: string, tokenHash: string): Promise<RefreshTokenRecord | undefined>;
  findRefreshToken(tenantId: string, id: string): Promise<RefreshTokenRecord | undefined>;
  /**
   * Retires a current token in favour of its successor, keeping the sealed
   * grant for the grace window. False when it was already retired: a
   * concurrent refresh won.
   */
  retireRefreshToken(
    tenantId: string,
    id: string,
    retirement: { retiredAt: number; replacedBy: string; graceGrant: string; graceExpiresAt: number },
  ): Promise<boolean>;

  /** The record of a key that has not expired, if any; nothing is written. */
  findIdempotencyRecord(ref: IdempotencyKeyRef, now: number): Promise<IdempotencyRecord | undefined>;
  claimIdempotencyKey(scope: IdempotencyScope, fingerprint: string, now: number, timing: { retentionMs: number; lockMs: number }): Promise<IdempotencyClaimResult>;
  completeIdempotencyKey(ref: IdempotencyKeyRef, responseStatus: number, sealedResponse: string): Promise<void>;
  releaseIdempotencyKey(ref: IdempotencyKeyRef): Promise<void>;

  insertAuditEvent(event: NewAuditEvent): Promise<void>;
  /**
   * Adds the event's count to the row of its id, writing the row if there
   * is none yet: how repeated events are counted in one row, by every
   * instance at once.
   */
  countAuditEvent(event: NewAuditEvent & { count: number }): Promise<void>;
  /** The tenant's audit events, newest first. */
  listAuditEvents(tenantId: string, page: AuditEventPage): Promise<AuditEventRecord[]>;
}

export interface AuthStore extends StoreOperations {
  readonly dialect: 'sqlite' | 'postgres';
  /** Runs `work` in one transaction: all of it commits, or none of it. */
  transaction<T>(work: (tx: StoreOperations) => Promise<T>): Promise<T>;
  /**
   * Deletes expired login states, idempotency records and rate-limit
   * counters, grace grants past their window, the ID tokens of sessions
   * that ended, logout token ids past their expiry, and audit events older
   * than `auditRetentionMs`.
   */
  prune(
    now: number,
    auditRetentionMs?: number,
  ): Promise<{ rateLimitCounters: number; loginStates: number; idempotencyRecords: number; graceGrants: number; auditEvents: number; idTokens: number; logoutTokenJtis: number }>;
  /** Row counts per table, for operators and tests. */
  countRows(): Promise<Record<'users' | 'loginStates' | 'sessions' | 'refreshTokens' | 'idempotencyRecords', number>>;
  /** Every signing and sealing key, oldest generation first. */
  listServerKeys(): Promise<ServerKeyRecord[]>;
  /** Adds a key; false when its kind already has that generation (another instance or rotation was first). */
  insertServerKey(key: ServerKeyRecord): Promise<boolean>;
  /** Replaces a key's stored material if it is still `from`; false when it is not. */
  replaceServerKeyMaterial(id: string, from: string, to: string): Promise<boolean>;
  /**
   * Retires a signing key at `now` and erases its material, when a newer
   * activated signing key, not retired, signs instead (or, for a key not
   * activated yet, one that is activated). False otherwise: the key signs
   * now, the id names no signing key, or one already retired. Of two
   * retirements at once, neither can leave no key to sign.
   */
  retireSigningKey(id: string, now: number): Promise<boolean>;
  /** Throws when the database does not answer, or can no longer make commits durable. */
  ping(): Promise<void>;
  /** Writes (and makes durable) one small row of no meaning: whether the storage takes writes now. */
  probeWrite(): Promise<void>;
  close(): Promise<void>;
}
