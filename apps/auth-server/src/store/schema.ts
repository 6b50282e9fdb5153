import type { Insertable, Selectable } from 'kysely';

/**
 * The tables of the auth store. Every row carries its tenant, and every
 * lookup filters on it, but for lookups by the hash of a bearer secret (a
 * login state at the callback, which carries no tenant) and by an
 * idempotency scope, whose subject is itself tenant-specific. Timestamps
 * are epoch milliseconds, so that comparisons behave the same in every
 * dialect.
 */
export interface Database {
  users: UsersTable;
  login_states: LoginStatesTable;
  sessions: SessionsTable;
  refresh_tokens: RefreshTokensTable;
  idempotency_records: IdempotencyRecordsTable;
}

export interface UsersTable {
  id: string;
  tenant_id: string;
  issuer: string;
  subject: string;
  email: string | null;
  email_verified: number;
  name: string | null;
  picture: string | null;
  created_at: number;
  updated_at: number;
}

export interface LoginStatesTable {
  /** SHA-256 of the state: the state itself is a bearer secret. */
  state_hash: string;
  tenant_id: string;
  provider_id: string;
  redirect_uri: string;
  /** The server's own PKCE verifier for the code exchange with the provider. */
  pkce_verifier: string;
  nonce: string;
  /** The frontend's S256 challenge, when it sent one. */
  code_challenge: string | null;
  created_at: number;
  expires_at: number;
  consumed_at: number | null;
}

export interface SessionsTable {
  id: string;
  tenant_id: string;
  user_id: string;
  provider_id: string;
  created_at: number;
  last_refreshed_at: number;
  expires_at: number;
  idle_expires_at: number;
  revoked_at: number | null;
  revoked_reason: string | null;
}

export interface RefreshTokensTable {
  id: string;
  tenant_id: string;
  session_id: string;
  /** SHA-256 of the token: the token itself is never stored. */
  token_hash: string;
  created_at: number;
  /** Set when the token was rotated. */
  retired_at: number | null;
  /** The token that replaced it. */
  replaced_by: string | null;
  /** The grant the rotation answered, sealed with AES-256-GCM, kept for the grace window only. */
  grace_grant: string | null;
  grace_expires_at: number | null;
}

export interface IdempotencyRecordsTable {
  tenant_id: string;
  operation: string;
  /**
   * What the key is scoped to besides the operation: something only its
   * caller holds (a hash of the session-creation `code_verifier`, the
   * refreshed session's id), so that one caller's key never collides with
   * another's.
   */
  subject: string;
  idempotency_key: string;
  fingerprint: string;
  /** `in_flight` while the first request runs, then `completed`. */
  status: string;
  response_status: number | null;
  /** The stored response (status, headers, body), sealed with AES-256-GCM. */
  response: string | null;
  created_at: number;
  expires_at: number;
  /** An in-flight claim older than this was abandoned by a crashed process. */
  locked_until: number;
}

export type UserRow = Selectable<UsersTable>;
export type LoginStateRow = Selectable<LoginStatesTable>;
export type SessionRow = Selectable<SessionsTable>;
export type RefreshTokenRow = Selectable<RefreshTokensTable>;
export type IdempotencyRecordRow = Selectable<IdempotencyRecordsTable>;
export type NewUser = Insertable<UsersTable>;
export type NewSession = Insertable<SessionsTable>;
export type NewRefreshToken = Insertable<RefreshTokensTable>;
export type NewLoginState = Insertable<LoginStatesTable>;
