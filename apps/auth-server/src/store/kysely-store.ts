import { Kysely, Migrator, sql, type Transaction } from 'kysely';
import type { AuthStore, IdempotencyClaimResult, IdempotencyKeyRef, IdempotencyScope, SessionPage, StoreOperations } from './auth-store.js';
import { migrationProvider } from './migrations.js';
import type { Database, NewLoginState, NewRefreshToken, NewSession, NewUser } from './schema.js';

/** The store's queries, over a connection or a transaction. Dialect-neutral SQL only. */
class KyselyOperations implements StoreOperations {
  constructor(protected readonly db: Kysely<Database> | Transaction<Database>) {}

  async insertLoginState(row: NewLoginState): Promise<void> {
    await this.db.insertInto('login_states').values(row).execute();
  }

  findLiveLoginState(stateHash: string, now: number) {
    return this.db
      .selectFrom('login_states')
      .selectAll()
      .where('state_hash', '=', stateHash)
      .where('consumed_at', 'is', null)
      .where('expires_at', '>', now)
      .executeTakeFirst();
  }

  findLoginState(stateHash: string, now: number) {
    return this.db.selectFrom('login_states').selectAll().where('state_hash', '=', stateHash).where('expires_at', '>', now).executeTakeFirst();
  }

  async consumeLoginState(stateHash: string, tenantId: string, now: number) {
    // A conditional update: of two concurrent requests, exactly one sees a row changed.
    const result = await this.db
      .updateTable('login_states')
      .set({ consumed_at: now })
      .where('state_hash', '=', stateHash)
      .where('tenant_id', '=', tenantId)
      .where('consumed_at', 'is', null)
      .where('expires_at', '>', now)
      .executeTakeFirst();
    if (result.numUpdatedRows !== 1n) return undefined;
    return this.db.selectFrom('login_states').selectAll().where('state_hash', '=', stateHash).executeTakeFirst();
  }

  async restoreLoginState(stateHash: string, consumedAt: number): Promise<void> {
    await this.db
      .updateTable('login_states')
      .set({ consumed_at: null })
      .where('state_hash', '=', stateHash)
      .where('consumed_at', '=', consumedAt)
      .execute();
  }

  async upsertUser(user: NewUser) {
    return this.db
      .insertInto('users')
      .values(user)
      .onConflict((conflict) =>
        conflict.columns(['tenant_id', 'issuer', 'subject']).doUpdateSet({
          email: user.email,
          email_verified: user.email_verified,
          name: user.name,
          picture: user.picture,
          updated_at: user.updated_at,
        }),
      )
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  findUser(tenantId: string, userId: string) {
    return this.db.selectFrom('users').selectAll().where('tenant_id', '=', tenantId).where('id', '=', userId).executeTakeFirst();
  }

  async insertSession(session: NewSession): Promise<void> {
    await this.db.insertInto('sessions').values(session).execute();
  }

  findSession(tenantId: string, sessionId: string) {
    return this.db.selectFrom('sessions').selectAll().where('tenant_id', '=', tenantId).where('id', '=', sessionId).executeTakeFirst();
  }

  async touchSession(tenantId: string, sessionId: string, now: number, idleExpiresAt: number): Promise<boolean> {
    // Conditional on the session still being live: a logout that commits first wins.
    const result = await this.db
      .updateTable('sessions')
      .set({ last_refreshed_at: now, idle_expires_at: idleExpiresAt })
      .where('tenant_id', '=', tenantId)
      .where('id', '=', sessionId)
      .where('revoked_at', 'is', null)
      .where('expires_at', '>', now)
      .where('idle_expires_at', '>', now)
      .executeTakeFirst();
    return result.numUpdatedRows === 1n;
  }

  async revokeSession(tenantId: string, sessionId: string, reason: string, now: number): Promise<boolean> {
    const result = await this.db
      .updateTable('sessions')
      .set({ revoked_at: now, revoked_reason: reason })
      .where('tenant_id', '=', tenantId)
      .where('id', '=', sessionId)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return result.numUpdatedRows === 1n;
  }

  listActiveSessions(tenantId: string, userId: string, now: number, page: SessionPage) {
    let query = this.db
      .selectFrom('sessions')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('user_id', '=', userId)
      .where('revoked_at', 'is', null)
      .where('expires_at', '>', now)
      .where('idle_expires_at', '>', now);
    const after = page.after;
    if (after) {
      query = query.where((eb) =>
        eb.or([eb('created_at', '<', after.createdAt), eb.and([eb('created_at', '=', after.createdAt), eb('id', '<', after.id)])]),
      );
    }
    return query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(page.limit).execute();
  }

  async insertRefreshToken(token: NewRefreshToken): Promise<void> {
    await this.db.insertInto('refresh_tokens').values(token).execute();
  }

  findRefreshTokenByHash(tenantId: string, tokenHash: string) {
    return this.db.selectFrom('refresh_tokens').selectAll().where('token_hash', '=', tokenHash).where('tenant_id', '=', tenantId).executeTakeFirst();
  }

  findRefreshToken(tenantId: string, id: string) {
    return this.db.selectFrom('refresh_tokens').selectAll().where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
  }

  async retireRefreshToken(
    tenantId: string,
    id: string,
    retirement: { retiredAt: number; replacedBy: string; graceGrant: string; graceExpiresAt: number },
  ): Promise<boolean> {
    // Conditional on the token still being current: the loser of a race changes nothing.
    const result = await this.db
      .updateTable('refresh_tokens')
      .set({
        retired_at: retirement.retiredAt,
        replaced_by: retirement.replacedBy,
        grace_grant: retirement.graceGrant,
        grace_expires_at: retirement.graceExpiresAt,
      })
      .where('tenant_id', '=', tenantId)
      .where('id', '=', id)
      .where('retired_at', 'is', null)
      .executeTakeFirst();
    return result.numUpdatedRows === 1n;
  }

  findIdempotencyRecord(ref: IdempotencyKeyRef, now: number) {
    return this.db.selectFrom('idempotency_records').selectAll().where(this.#keyFilter(ref)).where('expires_at', '>', now).executeTakeFirst();
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
      .deleteFrom('idempotency_records')
      .where(key)
      .where('expires_at', '<=', now)
      .execute();
    const inserted = await this.db
      .insertInto('idempotency_records')
      .values({
        tenant_id: scope.tenantId,
        operation: scope.operation,
        subject: scope.subject,
        idempotency_key: scope.key,
        fingerprint,
        status: 'in_flight',
        response_status: null,
        response: null,
        created_at: now,
        expires_at: now + timing.retentionMs,
        locked_until: now + timing.lockMs,
      })
      .onConflict((conflict) => conflict.columns(['operation', 'subject', 'idempotency_key']).doNothing())
      .executeTakeFirst();
    if (inserted.numInsertedOrUpdatedRows === 1n) return { kind: 'claimed' };

    const record = await this.db.selectFrom('idempotency_records').selectAll().where(key).executeTakeFirstOrThrow();
    if (record.fingerprint !== fingerprint) return { kind: 'mismatch' };
    if (record.status === 'completed') return { kind: 'completed', record };
    if (record.locked_until > now) return { kind: 'in_flight', lockedUntil: record.locked_until };
    // The request that claimed it died without finishing: take the claim over.
    const taken = await this.db
      .updateTable('idempotency_records')
      .set({ locked_until: now + timing.lockMs })
      .where(key)
      .where('status', '=', 'in_flight')
      .where('locked_until', '=', record.locked_until)
      .executeTakeFirst();
    // Two takers that both read the old lock are possible only across processes (PostgreSQL); SQLite runs one transaction at a time.
    // Stryker disable next-line ConditionalExpression,ArithmeticOperator: see above
    return taken.numUpdatedRows === 1n ? { kind: 'claimed' } : { kind: 'in_flight', lockedUntil: now + timing.lockMs };
  }

  async completeIdempotencyKey(ref: IdempotencyKeyRef, responseStatus: number, sealedResponse: string): Promise<void> {
    await this.db
      .updateTable('idempotency_records')
      .set({ status: 'completed', response_status: responseStatus, response: sealedResponse })
      .where(this.#keyFilter(ref))
      .execute();
  }

  async releaseIdempotencyKey(ref: IdempotencyKeyRef): Promise<void> {
    await this.db.deleteFrom('idempotency_records').where(this.#keyFilter(ref)).where('status', '=', 'in_flight').execute();
  }

  #keyFilter(ref: IdempotencyKeyRef) {
    return sql<boolean>`operation = ${ref.operation} and subject = ${ref.subject} and idempotency_key = ${ref.key}`;
  }
}

/** The store on any Kysely dialect: SQLite here, PostgreSQL alike. */
export class KyselyAuthStore extends KyselyOperations implements AuthStore {
  readonly #db: Kysely<Database>;

  private constructor(db: Kysely<Database>) {
    super(db);
    this.#db = db;
  }

  /** Opens the store and brings its schema up to date. */
  static async open(db: Kysely<Database>): Promise<KyselyAuthStore> {
    const migrator = new Migrator({ db, provider: migrationProvider });
    const { error, results } = await migrator.migrateToLatest();
    if (error) {
      const failed = results?.find((r) => r.status === 'Error')?.migrationName;
      // Stryker disable next-line StringLiteral: the migrator always names the migration that failed; '' is a fallback for its contract
      throw new Error(`Database migration ${failed ?? ''} failed`, { cause: error });
    }
    return new KyselyAuthStore(db);
  }

  transaction<T>(work: (tx: StoreOperations) => Promise<T>): Promise<T> {
    return this.#db.transaction().execute((trx) => work(new KyselyOperations(trx)));
  }

  async prune(now: number) {
    // Each statement is atomic on its own; together they need no transaction.
    {
      const states = await this.#db.deleteFrom('login_states').where('expires_at', '<=', now).executeTakeFirst();
      const records = await this.#db.deleteFrom('idempotency_records').where('expires_at', '<=', now).executeTakeFirst();
      const graces = await this.#db
        .updateTable('refresh_tokens')
        .set({ grace_grant: null })
        .where('grace_grant', 'is not', null)
        .where('grace_expires_at', '<=', now)
        .executeTakeFirst();
      return {
        loginStates: Number(states.numDeletedRows),
        idempotencyRecords: Number(records.numDeletedRows),
        graceGrants: Number(graces.numUpdatedRows),
      };
    }
  }

  async countRows() {
    const count = async (table: keyof Database) =>
      Number((await this.#db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
    return {
      users: await count('users'),
      login_states: await count('login_states'),
      sessions: await count('sessions'),
      refresh_tokens: await count('refresh_tokens'),
      idempotency_records: await count('idempotency_records'),
    };
  }

  async ping(): Promise<void> {
    await sql`select 1`.execute(this.#db);
  }

  async close(): Promise<void> {
    await this.#db.destroy();
  }
}
