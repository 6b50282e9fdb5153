import type { Kysely } from 'kysely';
import type { HotQuery } from './query-runner.js';
import type { Database, UsersTable } from './schema.js';

/** The refresh token's columns, in the order `insertRefreshToken` takes them. */
export const REFRESH_TOKEN_COLUMNS = ['id', 'tenantId', 'sessionId', 'tokenHash', 'createdAt', 'retiredAt', 'replacedBy', 'graceGrant', 'graceExpiresAt'] as const;
/** The audit event's columns, in the order `insertAuditEvent` takes them. */
export const AUDIT_EVENT_COLUMNS = ['id', 'tenantId', 'type', 'at', 'count', 'requestId', 'clientRequestId', 'sessionId', 'userId', 'clientAddress'] as const;

/** Every column of a user (the record says so: one it lacks does not compile). */
export const USER_COLUMNS = Object.keys({
  id: true,
  tenantId: true,
  issuer: true,
  subject: true,
  email: true,
  emailVerified: true,
  name: true,
  picture: true,
  createdAt: true,
  updatedAt: true,
} satisfies Record<keyof UsersTable, true>) as (keyof UsersTable)[];
/** A user's column beside a session's, in one row: `joinedUserEmail` (`userId` is the session's own). */
export const joinedUserColumn = <C extends keyof UsersTable>(column: C) => `joinedUser${column.charAt(0).toUpperCase()}${column.slice(1)}` as `joinedUser${Capitalize<C>}`;

/** A row of `columns` from values in their order. */
const row = <K extends string>(columns: readonly K[], values: unknown[]) => Object.fromEntries(columns.map((column, i) => [column, values[i]])) as Record<K, never>;

/** The queries made on every request with an access token, and on every refresh. */
export const hotQueries = {
  session: (db: Kysely<Database>, tenantId: string, id: string) => db.selectFrom('sessions').selectAll().where('tenantId', '=', tenantId).where('id', '=', id),
  user: (db: Kysely<Database>, tenantId: string, id: string) => db.selectFrom('users').selectAll().where('tenantId', '=', tenantId).where('id', '=', id),
  sessionWithUser: (db: Kysely<Database>, tenantId: string, id: string) =>
    db
      .selectFrom('sessions')
      .innerJoin('users', (join) => join.onRef('users.tenantId', '=', 'sessions.tenantId').onRef('users.id', '=', 'sessions.userId'))
      .selectAll('sessions')
      .select(USER_COLUMNS.map((column) => `users.${column} as ${joinedUserColumn(column)}` as const))
      .where('sessions.tenantId', '=', tenantId)
      .where('sessions.id', '=', id),
  tokenByHash: (db: Kysely<Database>, tenantId: string, hash: string) => db.selectFrom('refreshTokens').selectAll().where('tenantId', '=', tenantId).where('tokenHash', '=', hash),
  token: (db: Kysely<Database>, tenantId: string, id: string) => db.selectFrom('refreshTokens').selectAll().where('tenantId', '=', tenantId).where('id', '=', id),
  // Conditional on the session still being live: a logout that commits first wins.
  touchSession: (db: Kysely<Database>, now: number, idleExpiresAt: number, tenantId: string, id: string, now2: number, now3: number) =>
    db
      .updateTable('sessions')
      .set({ lastRefreshedAt: now, idleExpiresAt })
      .where('tenantId', '=', tenantId)
      .where('id', '=', id)
      .where('revokedAt', 'is', null)
      .where('expiresAt', '>', now2)
      .where('idleExpiresAt', '>', now3),
  // Conditional on the token still being current: the loser of a race changes nothing.
  retireRefreshToken: (db: Kysely<Database>, retiredAt: number, replacedBy: string, graceGrant: string, graceExpiresAt: number, tenantId: string, id: string) =>
    db.updateTable('refreshTokens').set({ retiredAt, replacedBy, graceGrant, graceExpiresAt }).where('tenantId', '=', tenantId).where('id', '=', id).where('retiredAt', 'is', null),
  insertRefreshToken: (db: Kysely<Database>, ...values: unknown[]) => db.insertInto('refreshTokens').values(row(REFRESH_TOKEN_COLUMNS, values)),
  insertAuditEvent: (db: Kysely<Database>, ...values: unknown[]) => db.insertInto('auditEvents').values(row(AUDIT_EVENT_COLUMNS, values)),
} satisfies Record<string, HotQuery<unknown>>;
