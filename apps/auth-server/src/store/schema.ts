import type { Insertable, Selectable } from 'kysely';

/**
 * The tables of the auth store, as the services see them: names in
 * camelCase (Kysely's `CamelCasePlugin` maps them to the snake_case
 * columns of the migrations). Every row carries its tenant, and every
 * lookup filters on it, but for lookups by the hash of a bearer secret (a
 * login state at the callback, which carries no tenant) and by an
 * idempotency scope, whose subject is itself tenant-specific. Timestamps
 * are epoch milliseconds, so that comparisons behave the same in every
 * dialect.
 */
export interface Database {
  users: UsersTable;
  loginStates: LoginStatesTable;
  sessions: SessionsTable;
  refreshTokens: RefreshTokensTable;
  idempotencyRecords: IdempotencyRecordsTable;
  serverKeys: ServerKeysTable;
  auditEvents: AuditEventsTable;
  sessionIdTokens: SessionIdTokensTable;
  logoutTokenJtis: LogoutTokenJtisTable;
}

export interface UsersTable {
  id: string;
  tenantId: string;
  issuer: string;
  subject: string;
  email: string | null;
  /** 0 or 1: the same in every dialect. */
  emailVerified: number;
  name: string | null;
  picture: string | null;
  createdAt: number;
  updatedAt: number;
}

export interface LoginStatesTable {
  /** SHA-256 of the state: the state itself is a bearer secret. */
  stateHash: string;
  tenantId: string;
  providerId: string;
  redirectUri: string;
  /** The server's own PKCE verifier for the code exchange with the provider. */
  pkceVerifier: string;
  nonce: string;
  /** The frontend's S256 challenge, when it sent one. */
  codeChallenge: string | null;
  createdAt: number;
  expiresAt: number;
  consumedAt: number | null;
  /** When the provider first sent the browser back to the callback with this state. */
  returnedAt: number | null;
  /** The user's name as that first return gave it (Apple's `user` field, unsigned): the name of a user whose ID token has none. */
  name: string | null;
}

export interface SessionsTable {
  id: string;
  tenantId: string;
  userId: string;
  providerId: string;
  createdAt: number;
  lastRefreshedAt: number;
  expiresAt: number;
  idleExpiresAt: number;
  revokedAt: number | null;
  revokedReason: string | null;
  /** The provider's session id (`sid` of the login's ID token), which its back-channel logout names. */
  providerSid: string | null;
}

/**
 * A live session's ID token, sealed with AES-256-GCM to its session: the
 * `id_token_hint` of the provider's end-session request, and nothing else.
 * Deleted when the session is revoked, and swept once it has expired.
 */
export interface SessionIdTokensTable {
  sessionId: string;
  tenantId: string;
  idToken: string;
}

/** A back-channel logout token already acted on: a replay of its `jti` is refused until `expiresAt`. */
export interface LogoutTokenJtisTable {
  tenantId: string;
  providerId: string;
  jti: string;
  /** When the token could no longer be accepted anyway: the row is swept then. */
  expiresAt: number;
}

export interface RefreshTokensTable {
  id: string;
  tenantId: string;
  sessionId: string;
  /** SHA-256 of the token: the token itself is never stored. */
  tokenHash: string;
  createdAt: number;
  /** Set when the token was rotated. */
  retiredAt: number | null;
  /** The token that replaced it. */
  replacedBy: string | null;
  /** The grant the rotation answered, sealed with AES-256-GCM, kept for the grace window only. */
  graceGrant: string | null;
  graceExpiresAt: number | null;
}

export interface IdempotencyRecordsTable {
  tenantId: string;
  operation: string;
  /**
   * What the key is scoped to besides the operation: something only its
   * caller holds (a hash of the session-creation `code_verifier`, the
   * refreshed session's id), so that one caller's key never collides with
   * another's.
   */
  subject: string;
  idempotencyKey: string;
  fingerprint: string;
  /** `in_flight` while the first request runs, then `completed`. */
  status: string;
  responseStatus: number | null;
  /** The stored response (status, headers, body), sealed with AES-256-GCM. */
  response: string | null;
  createdAt: number;
  expiresAt: number;
  /** An in-flight claim older than this was abandoned by a crashed process. */
  lockedUntil: number;
}

export interface ServerKeysTable {
  /** The key id: a signing key's `kid`. */
  id: string;
  kind: 'signing' | 'sealing';
  /** 1 for the first key of its kind, then one more per rotation. */
  generation: number;
  /** The private key: `plain:` JSON, or `sealed:` under the key encryption secret. */
  material: string;
  createdAt: number;
  /** Published from creation; signs or seals from this time on. */
  activatesAt: number;
  /**
   * When a signing key was retired (it leaked): from then on it is neither
   * published nor trusted, and its material is erased. Null for a key in use.
   */
  retiredAt: number | null;
}

/**
 * A security event of a tenant, for its operators. It names the request,
 * session, user and client it concerns, and MUST NOT hold a token, code,
 * state, key or secret: the log is read with an API key, not a session.
 */
export interface AuditEventsTable {
  id: string;
  tenantId: string;
  type: string;
  /** When it happened; for a row that stands for several events, when the first did. */
  at: number;
  /** How many events the row stands for: repeated refusals are counted in one row per minute. */
  count: number;
  /** The id the server gave the request. */
  requestId: string | null;
  /** The `X-Request-Id` the client chose, kept apart: it is neither unique nor proof of anything. */
  clientRequestId: string | null;
  sessionId: string | null;
  userId: string | null;
  clientAddress: string | null;
}

/** The domain records the store hands out and takes: rows, but for a user's flag, which is a boolean. */
export interface UserRecord extends Omit<Selectable<UsersTable>, 'emailVerified'> {
  emailVerified: boolean;
}
export type LoginStateRecord = Selectable<LoginStatesTable>;
export type SessionRecord = Selectable<SessionsTable>;
export type RefreshTokenRecord = Selectable<RefreshTokensTable>;
export type IdempotencyRecord = Selectable<IdempotencyRecordsTable>;
export type NewUser = UserRecord;
export type NewSession = Insertable<SessionsTable>;
export type NewRefreshToken = Insertable<RefreshTokensTable>;
export type NewLoginState = Insertable<LoginStatesTable>;
export type NewSessionIdToken = Insertable<SessionIdTokensTable>;
export type NewLogoutTokenJti = Insertable<LogoutTokenJtisTable>;
export type ServerKeyRecord = Selectable<ServerKeysTable>;
export type AuditEventRecord = Selectable<AuditEventsTable>;
/** An event as it is written: one event, unless it says how many it stands for; the client's request id if it sent one. */
export type NewAuditEvent = Omit<AuditEventRecord, 'count' | 'clientRequestId'> & Partial<Pick<AuditEventRecord, 'count' | 'clientRequestId'>>;
