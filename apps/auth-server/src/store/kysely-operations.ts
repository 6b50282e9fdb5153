import { sql, type Kysely, type Selectable } from 'kysely';
import type { AuditEventPage, IdempotencyClaimResult, IdempotencyKeyRef, IdempotencyScope, SessionPage, StoreOperations } from './auth-store.js';
import { AUDIT_EVENT_COLUMNS, hotQueries, joinedUserColumn, REFRESH_TOKEN_COLUMNS, USER_COLUMNS } from './hot-queries.js';
import type { HotQuery, QueryRunner } from './query-runner.js';
import type {
  AuditEventRecord,
  Database,
  NewAuditEvent,
  NewLoginState,
  NewLogoutTokenJti,
  NewRefreshToken,
  NewSession,
  NewSessionIdToken,
  NewUser,
  SessionRecord,
  UserRecord,
  UsersTable,
} from './schema.js';

/**
 * The store's queries, over a connection or a transaction: the hot ones
 * (`hotQueries`) through the runner of that connection or transaction, the
 * rest through Kysely.
 */
export class KyselyOperations implements StoreOperations {
  constructor(
    protected readonly db: Kysely<Database>,
    protected readonly runner: QueryRunner,
  ) {}

  async insertLoginState(row: NewLoginState): Promise<void> {
    await this.db.insertInto('loginStates').values(row).execute();
  }

  findLiveLoginState(stateHash: string, now: number) {
    return this.db
      .selectFrom('loginStates')
      .selectAll()
      .where('stateHash', '=', stateHash)
      .where('consumedAt', 'is', null)
      .where('expiresAt', '>', now)
      .executeTakeFirst();
  }

  findLoginState(stateHash: string, now: number) {
    return this.db.selectFrom('loginStates').selectAll().where('stateHash', '=', stateHash).where('expiresAt', '>', now).executeTakeFirst();
  }

  async markLoginReturned(stateHash: string, now: number, name: string | null = null): Promise<boolean> {
    const result = await this.db
      .updateTable('loginStates')
      .set({ returnedAt: now, name })
      .where('stateHash', '=', stateHash)
      .where('returnedAt', 'is', null)
      .where('consumedAt', 'is', null)
      .where('expiresAt', '>', now)
      .executeTakeFirst();
    return result.numUpdatedRows === 1n;
  }

  async consumeLoginState(stateHash: string, tenantId: string, now: number) {
    // A conditional update: of two concurrent requests, exactly one sees a row changed.
    const result = await this.db
      .updateTable('loginStates')
      .set({ consumedAt: now })
      .where('stateHash', '=', stateHash)
      .where('tenantId', '=', tenantId)
      .where('consumedAt', 'is', null)
      .where('expiresAt', '>', now)
      .executeTakeFirst();
    if (result.numUpdatedRows !== 1n) return undefined;
    return this.db.selectFrom('loginStates').selectAll().where('stateHash', '=', stateHash).executeTakeFirst();
  }

  async restoreLoginState(stateHash: string, consumedAt: number): Promise<void> {
    await this.db
      .updateTable('loginStates')
      .set({ consumedAt: null })
      .where('stateHash', '=', stateHash)
      .where('consumedAt', '=', consumedAt)
      .execute();
  }

  async upsertUser(user: NewUser) {
    const row = { ...user, emailVerified: user.emailVerified ? 1 : 0 };
    const stored = await this.db
      .insertInto('users')
      .values(row)
      .onConflict((conflict) =>
        conflict.columns(['tenantId', 'issuer', 'subject']).doUpdateSet({
          email: row.email,
          emailVerified: row.emailVerified,
          // A provider that names no one this time (Apple names the user on the first sign-in only) keeps the stored name.
          name: (eb) => eb.fn.coalesce(eb.ref('excluded.name'), eb.ref('users.name')),
          picture: row.picture,
          updatedAt: row.updatedAt,
        }),
      )
      .returningAll()
      .executeTakeFirstOrThrow();
    return toUserRecord(stored);
  }

  async findUser(tenantId: string, userId: string) {
    const row = (await this.runner.run(hotQueries.user, [tenantId, userId])).rows[0];
    return row && toUserRecord(row);
  }

  async insertSession(session: NewSession): Promise<void> {
    await this.db.insertInto('sessions').values(session).execute();
  }

  findSession(tenantId: string, sessionId: string) {
    return this.#first(hotQueries.session, [tenantId, sessionId]);
  }

  async findSessionWithUser(tenantId: string, sessionId: string) {
    const row = (await this.runner.run(hotQueries.sessionWithUser, [tenantId, sessionId])).rows[0];
    if (!row) return undefined;
    const { id, tenantId: sessionTenant, userId, providerId, createdAt, lastRefreshedAt, expiresAt, idleExpiresAt, revokedAt, revokedReason, providerSid } = row;
    const user = Object.fromEntries(USER_COLUMNS.map((column) => [column, row[joinedUserColumn(column)]])) as Selectable<UsersTable>;
    // Typed, so that a column the sessions table gains and this leaves out does not compile.
    const session: Required<SessionRecord> = { id, tenantId: sessionTenant, userId, providerId, createdAt, lastRefreshedAt, expiresAt, idleExpiresAt, revokedAt, revokedReason, providerSid };
    return { session, user: toUserRecord(user) };
  }

  async touchSession(tenantId: string, sessionId: string, now: number, idleExpiresAt: number): Promise<boolean> {
    const result = await this.runner.run(hotQueries.touchSession, [now, idleExpiresAt, tenantId, sessionId, now, now]);
    return result.numAffectedRows === 1n;
  }

  async revokeSession(tenantId: string, sessionId: string, reason: string, now: number): Promise<boolean> {
    const result = await this.db
      .updateTable('sessions')
      .set({ revokedAt: now, revokedReason: reason })
      .where('tenantId', '=', tenantId)
      .where('id', '=', sessionId)
      .where('revokedAt', 'is', null)
      .executeTakeFirst();
    if (result.numUpdatedRows !== 1n) return false;
    await this.#dropIdTokens(tenantId, [sessionId]);
    return true;
  }

  async revokeProviderSessions(
    tenantId: string,
    providerId: string,
    match: { issuer: string; sid?: string | undefined; subject?: string | undefined },
    reason: string,
    now: number,
  ): Promise<{ id: string; userId: string }[]> {
    const { issuer, sid, subject } = match;
    // Neither names nothing: never every session of the provider.
    if (sid === undefined && subject === undefined) return [];
    let query = this.db
      .updateTable('sessions')
      .set({ revokedAt: now, revokedReason: reason })
      .where('tenantId', '=', tenantId)
      .where('providerId', '=', providerId)
      .where('revokedAt', 'is', null);
    const ofSubject = (subjectId: string) =>
      this.db.selectFrom('users').select('users.id').where('users.tenantId', '=', tenantId).where('users.issuer', '=', issuer).where('users.subject', '=', subjectId);
    if (sid !== undefined && subject !== undefined) {
      // The session the provider names, and the user's sessions whose ID token named no session (before sids were
      // kept, or a provider that sent none): a logout errs towards ending a session, never towards keeping one.
      query = query.where('userId', 'in', ofSubject(subject)).where((eb) => eb.or([eb('providerSid', '=', sid), eb('providerSid', 'is', null)]));
    } else if (sid !== undefined) {
      query = query.where('providerSid', '=', sid);
    } else if (subject !== undefined) {
      query = query.where('userId', 'in', ofSubject(subject));
    }
    const revoked = await query.returning(['id', 'userId']).execute();
    await this.#dropIdTokens(tenantId, revoked.map((session) => session.id));
    return revoked;
  }

  async insertSessionIdToken(row: NewSessionIdToken): Promise<void> {
    await this.db.insertInto('sessionIdTokens').values(row).execute();
  }

  async findSessionIdToken(tenantId: string, sessionId: string): Promise<string | undefined> {
    const row = await this.db.selectFrom('sessionIdTokens').select('idToken').where('tenantId', '=', tenantId).where('sessionId', '=', sessionId).executeTakeFirst();
    return row?.idToken;
  }

  async recordLogoutTokenJti(row: NewLogoutTokenJti, now: number): Promise<boolean> {
    // A row past its expiry no longer counts: its id may come again.
    await this.db
      .deleteFrom('logoutTokenJtis')
      .where('tenantId', '=', row.tenantId)
      .where('providerId', '=', row.providerId)
      .where('jti', '=', row.jti)
      .where('expiresAt', '<=', now)
      .execute();
    // An insert that does nothing on conflict: of two deliveries at once, on any instances, exactly one records it.
    const inserted = await this.db
      .insertInto('logoutTokenJtis')
      .values(row)
      .onConflict((conflict) => conflict.columns(['tenantId', 'providerId', 'jti']).doNothing())
      .executeTakeFirst();
    return inserted.numInsertedOrUpdatedRows === 1n;
  }

  /** A session's ID token is kept only while it lives. */
  async #dropIdTokens(tenantId: string, sessionIds: string[]): Promise<void> {
    if (sessionIds.length === 0) return;
    await this.db.deleteFrom('sessionIdTokens').where('tenantId', '=', tenantId).where('sessionId', 'in', sessionIds).execute();
  }

  listActiveSessions(tenantId: string, userId: string, now: number, page: SessionPage) {
    let query = this.db
      .selectFrom('sessions')
      .selectAll()
      .where('tenantId', '=', tenantId)
      .where('userId', '=', userId)
      .where('revokedAt', 'is', null)
      .where('expiresAt', '>', now)
      .where('idleExpiresAt', '>', now);
    const after = page.after;
    if (after) {
      query = query.where((eb) =>
        eb.or([eb('createdAt', '<', after.createdAt), eb.and([eb('createdAt', '=', after.createdAt), eb('id', '<', after.id)])]),
      );
    }
    return query.orderBy('createdAt', 'desc').orderBy('id', 'desc').limit(page.limit).execute();
  }

  async insertRefreshToken(token: NewRefreshToken): Promise<void> {
    await this.runner.run(hotQueries.insertRefreshToken, REFRESH_TOKEN_COLUMNS.map((column) => token[column] ?? null));
  }

  findRefreshTokenByHash(tenantId: string, tokenHash: string) {
    return this.#first(hotQueries.tokenByHash, [tenantId, tokenHash]);
  }

  findRefreshToken(tenantId: string, id: string) {
    return this.#first(hotQueries.token, [tenantId, id]);
  }

  async retireRefreshToken(
    tenantId: string,
    id: string,
    retirement: { retiredAt: number; replacedBy: string; graceGrant: string; graceExpiresAt: number },
  ): Promise<boolean> {
    const { retiredAt, replacedBy, graceGrant, graceExpiresAt } = retirement;
    const result = await this.runner.run(hotQueries.retireRefreshToken, [retiredAt, replacedBy, graceGrant, graceExpiresAt, tenantId, id]);
    return result.numAffectedRows === 1n;
  }

  findIdempotencyRecord(ref: IdempotencyKeyRef, now: number) {
    return this.db.selectFrom('idempotencyRecords').selectAll().where(this.#keyFilter(ref)).where('expiresAt', '>', now).executeTakeFirst();
  }

  async claimIdempotencyKey(
    scope: IdempotencyScope,
    fingerprint: string,
    now: number,
    timing: { retentionMs: number; lockMs: number },
  ): Promise<IdempotencyClaimResult> {
    const key = this.#keyFilter(scope);
    // An expired record no longer exists as far as clients are concerned.
    await this.db
      .deleteFrom('idempotencyRecords')
      .where(key)
      .where('expiresAt', '<=', now)
      .execute();
    // The record the insert ran into can be gone by the time it is read (its holder released it after a failure,
    // or it expired and another claimant deleted it): then the key is free again, and the insert is tried anew.
    let record: Selectable<Database['idempotencyRecords']> | undefined;
    for (let attempt = 0; !record; attempt++) {
      const inserted = await this.db
        .insertInto('idempotencyRecords')
        .values({
          tenantId: scope.tenantId,
          operation: scope.operation,
          subject: scope.subject,
          idempotencyKey: scope.key,
          fingerprint,
          status: 'in_flight',
          responseStatus: null,
          response: null,
          createdAt: now,
          expiresAt: now + timing.retentionMs,
          lockedUntil: now + timing.lockMs,
        })
        .onConflict((conflict) => conflict.columns(['operation', 'subject', 'idempotencyKey']).doNothing())
        .executeTakeFirst();
      if (inserted.numInsertedOrUpdatedRows === 1n) return { kind: 'claimed' };
      record = await this.db.selectFrom('idempotencyRecords').selectAll().where(key).executeTakeFirst();
      // Stryker disable next-line ConditionalExpression: a key that keeps vanishing between two statements is another request's claim in flight
      if (!record && attempt >= 2) return { kind: 'in_flight', lockedUntil: now + timing.lockMs };
    }
    if (record.fingerprint !== fingerprint) return { kind: 'mismatch' };
    if (record.status === 'completed') return { kind: 'completed', record };
    if (record.lockedUntil > now) return { kind: 'in_flight', lockedUntil: record.lockedUntil };
    // The request that claimed it died without finishing: take the claim over.
    const taken = await this.db
      .updateTable('idempotencyRecords')
      .set({ lockedUntil: now + timing.lockMs })
      .where(key)
      .where('status', '=', 'in_flight')
      .where('lockedUntil', '=', record.lockedUntil)
      .executeTakeFirst();
    // Two takers that both read the old lock are possible only across processes (PostgreSQL); SQLite runs one transaction at a time.
    // Stryker disable next-line ConditionalExpression,ArithmeticOperator: see above
    return taken.numUpdatedRows === 1n ? { kind: 'claimed' } : { kind: 'in_flight', lockedUntil: now + timing.lockMs };
  }

  async completeIdempotencyKey(ref: IdempotencyKeyRef, responseStatus: number, sealedResponse: string): Promise<void> {
    await this.db
      .updateTable('idempotencyRecords')
      .set({ status: 'completed', responseStatus: responseStatus, response: sealedResponse })
      .where(this.#keyFilter(ref))
      .execute();
  }

  async releaseIdempotencyKey(ref: IdempotencyKeyRef): Promise<void> {
    await this.db.deleteFrom('idempotencyRecords').where(this.#keyFilter(ref)).where('status', '=', 'in_flight').execute();
  }

  async #first<R>(query: HotQuery<R>, parameters: readonly unknown[]): Promise<R | undefined> {
    return (await this.runner.run(query, parameters)).rows[0];
  }

  #keyFilter(ref: IdempotencyKeyRef) {
    return sql<boolean>`operation = ${ref.operation} and subject = ${ref.subject} and idempotency_key = ${ref.key}`;
  }

  async insertAuditEvent(event: NewAuditEvent): Promise<void> {
    const row: AuditEventRecord = { ...event, count: event.count ?? 1, clientRequestId: event.clientRequestId ?? null };
    await this.runner.run(hotQueries.insertAuditEvent, AUDIT_EVENT_COLUMNS.map((column) => row[column]));
  }

  async countAuditEvent(event: NewAuditEvent & { count: number }): Promise<void> {
    // One statement on both dialects: instances that count the same row at once add up, and none overwrites another.
    await this.db
      .insertInto('auditEvents')
      .values({ ...event, clientRequestId: event.clientRequestId ?? null })
      .onConflict((conflict) => conflict.column('id').doUpdateSet((eb) => ({ count: eb('auditEvents.count', '+', eb.ref('excluded.count')) })))
      .execute();
  }

  listAuditEvents(tenantId: string, page: AuditEventPage) {
    let query = this.db.selectFrom('auditEvents').selectAll().where('tenantId', '=', tenantId);
    const after = page.after;
    if (after) {
      query = query.where((eb) => eb.or([eb('at', '<', after.at), eb.and([eb('at', '=', after.at), eb('id', '<', after.id)])]));
    }
    return query.orderBy('at', 'desc').orderBy('id', 'desc').limit(page.limit).execute();
  }
}

function toUserRecord(row: Selectable<UsersTable>): UserRecord {
  return { ...row, emailVerified: row.emailVerified === 1 };
}
