import { randomBytes } from 'node:crypto';
import { CamelCasePlugin, Kysely, sql, type Compilable, type CompiledQuery, type QueryResult, type Selectable, type Transaction } from 'kysely';
import type { AuditEventPage, AuthStore, IdempotencyClaimResult, IdempotencyKeyRef, IdempotencyScope, PoolStats, SessionPage, StoreOperations } from './auth-store.js';
import { checkSchema, migrate } from './migrations.js';
import type { AuditEventRecord, Database, NewAuditEvent, NewLoginState, NewRefreshToken, NewSession, NewUser, ServerKeyRecord, SessionRecord, UserRecord, UsersTable } from './schema.js';
import type { CheckpointStats } from './checkpointer.js';
import type { GroupCommit } from './wal-sync.js';

/** Stand-ins for a precompiled query's parameters, unlike any value a caller passes. */
const SLOTS = Array.from({ length: 12 }, (_, i) => `\u0000slot${i}`);

/**
 * Runs a compiled query at once, past Kysely's executor: SQLite's, whose
 * one connection answers synchronously. Kysely's executor costs about as
 * much again as SQLite's own answer to a query of the hot paths.
 */
export interface DirectExecutor {
  /**
   * Whether a query outside a transaction may run now: nothing holds the
   * connection. While something does (a transaction between two of its
   * statements), a query waits its turn as any other, and so never reads
   * what that transaction has not committed.
   */
  free(): boolean;
  /** The query's answer, as Kysely's executor would give it (with the store's plugins). */
  execute<R>(compiled: CompiledQuery<R>, parameters: readonly unknown[]): QueryResult<R>;
}

/**
 * A query made on every request, or every refresh, compiled once. Kysely
 * builds, transforms (CamelCasePlugin) and compiles a query each time it
 * runs, which costs several times what SQLite takes to answer it. The query
 * is compiled with stand-ins for its parameters, which must come back as its
 * parameters, in order; otherwise it is built every time, as any other. The
 * compiled query runs on the store's connection or in a transaction alike:
 * with `direct` (SQLite), at once, in a transaction (which holds the one
 * connection) or while the connection is free.
 */
class Precompiled<R> {
  #compiled: CompiledQuery<R> | null | undefined;

  constructor(
    private readonly build: (...slots: never[]) => Compilable<R>,
    private readonly direct: DirectExecutor | undefined,
  ) {}

  /** `open`: `db` is a transaction whose work is still running, and so holds the connection. */
  async run(db: Kysely<Database> | Transaction<Database>, values: readonly unknown[], open: boolean): Promise<QueryResult<R>> {
    if (this.#compiled === undefined) {
      const compiled = this.build(...(SLOTS.slice(0, values.length) as never[])).compile();
      const slotted = compiled.parameters.length === values.length && compiled.parameters.every((parameter, i) => parameter === SLOTS[i]);
      this.#compiled = slotted ? compiled : null;
    }
    if (this.#compiled === null) return db.executeQuery(this.build(...(values as never[])));
    // A transaction that has ended goes Kysely's way, which refuses it.
    if (this.direct && (db.isTransaction ? open : this.direct.free())) return this.direct.execute(this.#compiled, values);
    return db.executeQuery<R>({ ...this.#compiled, parameters: values });
  }

  async first(db: Kysely<Database> | Transaction<Database>, values: readonly unknown[], open: boolean): Promise<R | undefined> {
    return (await this.run(db, values, open)).rows[0];
  }
}

/**
 * Kysely's CamelCasePlugin, which the store speaks through, with a way for
 * rows got past Kysely's executor (`DirectExecutor`) to be mapped as the
 * plugin maps them, each column's name worked out once.
 */
class StoreCasePlugin extends CamelCasePlugin {
  readonly #names = new Map<string, string>();

  mapRows(rows: Record<string, unknown>[]): Record<string, unknown>[] {
    return rows.map((row) => {
      const mapped: Record<string, unknown> = {};
      for (const key in row) {
        const value = row[key];
        // What the plugin would map inside a value (an object, an array) it maps itself.
        if (typeof value === 'object' && value !== null && !(value instanceof Uint8Array)) return this.mapRow(row);
        let name = this.#names.get(key);
        if (name === undefined) {
          name = this.camelCase(key);
          if (this.#names.size < 1_024) this.#names.set(key, name);
        }
        mapped[name] = value;
      }
      return mapped;
    });
  }
}

/** The plugin every store speaks through. */
export const storeCase = new StoreCasePlugin();

/** The refresh token's columns, in the order the precompiled insert takes them. */
const REFRESH_TOKEN_COLUMNS = ['id', 'tenantId', 'sessionId', 'tokenHash', 'createdAt', 'retiredAt', 'replacedBy', 'graceGrant', 'graceExpiresAt'] as const;
const AUDIT_EVENT_COLUMNS = ['id', 'tenantId', 'type', 'at', 'count', 'requestId', 'clientRequestId', 'sessionId', 'userId', 'clientAddress'] as const;

/** Every column of a user (the record says so: one it lacks does not compile). */
const USER_COLUMNS = Object.keys({
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
const joinedUserColumn = <C extends keyof UsersTable>(column: C) => `joinedUser${column.charAt(0).toUpperCase()}${column.slice(1)}` as `joinedUser${Capitalize<C>}`;

/** The queries of the hot paths (a session check, a refresh), compiled once per store and shared with its transactions. */
function hotQueries(db: Kysely<Database>, direct: DirectExecutor | undefined) {
  const compiled = <R>(build: (...slots: never[]) => Compilable<R>) => new Precompiled(build, direct);
  const slots = <K extends string>(columns: readonly K[], values: string[]) => Object.fromEntries(columns.map((column, i) => [column, values[i]])) as Record<K, never>;
  return {
    session: compiled((tenantId: string, id: string) => db.selectFrom('sessions').selectAll().where('tenantId', '=', tenantId).where('id', '=', id)),
    user: compiled((tenantId: string, id: string) => db.selectFrom('users').selectAll().where('tenantId', '=', tenantId).where('id', '=', id)),
    sessionWithUser: compiled((tenantId: string, id: string) =>
      db
        .selectFrom('sessions')
        .innerJoin('users', (join) => join.onRef('users.tenantId', '=', 'sessions.tenantId').onRef('users.id', '=', 'sessions.userId'))
        .selectAll('sessions')
        .select(USER_COLUMNS.map((column) => `users.${column} as ${joinedUserColumn(column)}` as const))
        .where('sessions.tenantId', '=', tenantId)
        .where('sessions.id', '=', id),
    ),
    tokenByHash: compiled((tenantId: string, hash: string) => db.selectFrom('refreshTokens').selectAll().where('tenantId', '=', tenantId).where('tokenHash', '=', hash)),
    token: compiled((tenantId: string, id: string) => db.selectFrom('refreshTokens').selectAll().where('tenantId', '=', tenantId).where('id', '=', id)),
    // Conditional on the session still being live: a logout that commits first wins.
    touchSession: compiled((now: never, idleExpiresAt: never, tenantId: string, id: string, now2: never, now3: never) =>
      db
        .updateTable('sessions')
        .set({ lastRefreshedAt: now, idleExpiresAt })
        .where('tenantId', '=', tenantId)
        .where('id', '=', id)
        .where('revokedAt', 'is', null)
        .where('expiresAt', '>', now2)
        .where('idleExpiresAt', '>', now3),
    ),
    // Conditional on the token still being current: the loser of a race changes nothing.
    retireRefreshToken: compiled((retiredAt: never, replacedBy: string, graceGrant: string, graceExpiresAt: never, tenantId: string, id: string) =>
      db.updateTable('refreshTokens').set({ retiredAt, replacedBy, graceGrant, graceExpiresAt }).where('tenantId', '=', tenantId).where('id', '=', id).where('retiredAt', 'is', null),
    ),
    insertRefreshToken: compiled((...values: string[]) => db.insertInto('refreshTokens').values(slots(REFRESH_TOKEN_COLUMNS, values))),
    insertAuditEvent: compiled((...values: string[]) => db.insertInto('auditEvents').values(slots(AUDIT_EVENT_COLUMNS, values))),
  };
}

type HotQueries = ReturnType<typeof hotQueries>;

/** The store's queries, over a connection or a transaction. Dialect-neutral SQL only. */
class KyselyOperations implements StoreOperations {
  /** A transaction's, while its work runs: only then may its hot queries run at once (`Precompiled`). */
  #open: boolean;

  constructor(
    protected readonly db: Kysely<Database> | Transaction<Database>,
    protected readonly hot: HotQueries,
  ) {
    this.#open = db.isTransaction;
  }

  /** The transaction's work has ended: whatever still calls on it is refused, as Kysely refuses an ended transaction. */
  end(): void {
    this.#open = false;
  }

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

  async markLoginReturned(stateHash: string, now: number): Promise<boolean> {
    const result = await this.db
      .updateTable('loginStates')
      .set({ returnedAt: now })
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
          name: row.name,
          picture: row.picture,
          updatedAt: row.updatedAt,
        }),
      )
      .returningAll()
      .executeTakeFirstOrThrow();
    return toUserRecord(stored);
  }

  async findUser(tenantId: string, userId: string) {
    const row = await this.hot.user.first(this.db, [tenantId, userId], this.#open);
    return row && toUserRecord(row);
  }

  async insertSession(session: NewSession): Promise<void> {
    await this.db.insertInto('sessions').values(session).execute();
  }

  findSession(tenantId: string, sessionId: string) {
    return this.hot.session.first(this.db, [tenantId, sessionId], this.#open);
  }

  async findSessionWithUser(tenantId: string, sessionId: string) {
    const row = await this.hot.sessionWithUser.first(this.db, [tenantId, sessionId], this.#open);
    if (!row) return undefined;
    const { id, tenantId: sessionTenant, userId, providerId, createdAt, lastRefreshedAt, expiresAt, idleExpiresAt, revokedAt, revokedReason } = row;
    const user = Object.fromEntries(USER_COLUMNS.map((column) => [column, row[joinedUserColumn(column)]])) as Selectable<UsersTable>;
    // Typed, so that a column the sessions table gains and this leaves out does not compile.
    const session: Required<SessionRecord> = { id, tenantId: sessionTenant, userId, providerId, createdAt, lastRefreshedAt, expiresAt, idleExpiresAt, revokedAt, revokedReason };
    return { session, user: toUserRecord(user) };
  }

  async touchSession(tenantId: string, sessionId: string, now: number, idleExpiresAt: number): Promise<boolean> {
    const result = await this.hot.touchSession.run(this.db, [now, idleExpiresAt, tenantId, sessionId, now, now], this.#open);
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
    return result.numUpdatedRows === 1n;
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
    await this.hot.insertRefreshToken.run(this.db, REFRESH_TOKEN_COLUMNS.map((column) => token[column] ?? null), this.#open);
  }

  findRefreshTokenByHash(tenantId: string, tokenHash: string) {
    return this.hot.tokenByHash.first(this.db, [tenantId, tokenHash], this.#open);
  }

  findRefreshToken(tenantId: string, id: string) {
    return this.hot.token.first(this.db, [tenantId, id], this.#open);
  }

  async retireRefreshToken(
    tenantId: string,
    id: string,
    retirement: { retiredAt: number; replacedBy: string; graceGrant: string; graceExpiresAt: number },
  ): Promise<boolean> {
    const { retiredAt, replacedBy, graceGrant, graceExpiresAt } = retirement;
    const result = await this.hot.retireRefreshToken.run(this.db, [retiredAt, replacedBy, graceGrant, graceExpiresAt, tenantId, id], this.#open);
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

  #keyFilter(ref: IdempotencyKeyRef) {
    return sql<boolean>`operation = ${ref.operation} and subject = ${ref.subject} and idempotency_key = ${ref.key}`;
  }

  async insertAuditEvent(event: NewAuditEvent): Promise<void> {
    const row: AuditEventRecord = { ...event, count: event.count ?? 1, clientRequestId: event.clientRequestId ?? null };
    await this.hot.insertAuditEvent.run(this.db, AUDIT_EVENT_COLUMNS.map((column) => row[column]), this.#open);
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

/** What readiness writes to learn whether the storage takes writes again. */
const STORAGE_PROBE_BYTES = 64 * 1024;

/** The error of the work, which the failed rollback after it would have replaced, with that failure beside it. */
function withRollbackFailure(error: unknown, rollbackFailure: unknown): unknown {
  if (error instanceof Error && !('rollbackFailure' in error)) Object.defineProperty(error, 'rollbackFailure', { value: rollbackFailure, enumerable: false });
  return error;
}

function toUserRecord(row: Selectable<UsersTable>): UserRecord {
  return { ...row, emailVerified: row.emailVerified === 1 };
}

export interface StoreOptions {
  dialect: AuthStore['dialect'];
  /**
   * Bring the schema up to date on open (the default). When false, a schema
   * that lacks a migration is refused: `pnpm migrate` applies it first.
   */
  migrate?: boolean;
  poolStats?: () => PoolStats;
  /** SQLite's checkpoint worker: what it did, and the frames at which the connection checkpoints by itself (0: it does not). */
  checkpoints?: () => CheckpointStats & { automaticFrames: number };
  /** Group commit (SQLite): what `settle()` waits for, and what ends its work in the background (before the connection closes). */
  durability?: { commits: GroupCommit; close: () => Promise<void> };
  /**
   * A number that changes whenever what a read returns may have changed:
   * with every statement of this store's that may write, and every commit
   * of any other connection. While it stays, a session read with its user
   * is answered from memory. Only a store that sees every change can give
   * one (one SQLite file); without it, every read goes to the database. It
   * is undefined while it cannot be told without the connection (a
   * transaction holds it): that read goes to the database too.
   */
  readVersion?: () => number | undefined;
  /** Runs the hot paths' compiled queries at once (SQLite). */
  direct?: DirectExecutor;
}

/** Sessions read with their users, kept while nothing may have changed them. */
const KEPT_SESSIONS = 10_000;

/**
 * What a retired key's material becomes: the leaked private key is not kept, and a row changed back to
 * not retired by whoever can write to the database holds no key to sign with.
 */
const RETIRED_KEY_MATERIAL = 'retired:';

/** Errors after which a transaction may simply run again: PostgreSQL's serialization failure and deadlock. */
const RETRYABLE_SQLSTATES = new Set(['40001', '40P01']);
const TRANSACTION_ATTEMPTS = 3;

/**
 * The store on any Kysely dialect: SQLite, or PostgreSQL at READ COMMITTED.
 * No operation reads and then writes on what it read: each change that
 * must happen once (consuming a state, retiring a token, revoking a
 * session, claiming a key) is a conditional UPDATE, or an INSERT that does
 * nothing on conflict, and the database decides which of two concurrent
 * requests changes the row. On PostgreSQL the loser waits for the winner's
 * commit and then finds the condition false.
 */
export class KyselyAuthStore extends KyselyOperations implements AuthStore {
  readonly #db: Kysely<Database>;
  readonly #durability: StoreOptions['durability'];
  readonly #readVersion: StoreOptions['readVersion'];
  readonly #keptSessions = new Map<string, { version: number; found: { session: SessionRecord; user: UserRecord } }>();
  readonly dialect: AuthStore['dialect'];
  readonly poolStats?: () => PoolStats;
  readonly checkpoints?: () => CheckpointStats & { automaticFrames: number };
  /** The migrations this open applied. */
  readonly applied: string[];

  private constructor(db: Kysely<Database>, options: StoreOptions, applied: string[]) {
    super(db, hotQueries(db, options.direct));
    this.#db = db;
    this.applied = applied;
    this.dialect = options.dialect;
    this.#durability = options.durability;
    this.#readVersion = options.readVersion;
    if (options.poolStats) this.poolStats = options.poolStats;
    if (options.checkpoints) this.checkpoints = options.checkpoints;
  }

  /**
   * Every request with an access token reads its session and user: kept in
   * memory, keyed by tenant and session, for as long as the read version
   * (`StoreOptions.readVersion`) stays. Any write, here or by another
   * connection, changes it, and the next read goes to the database: a
   * revoked session is refused at once, as without the cache. The version
   * is taken before the read: what a write that lands while it waits
   * changes is then kept under a version already past, which no later
   * read matches. What is kept is never older than its version.
   */
  override async findSessionWithUser(tenantId: string, sessionId: string) {
    const version = this.#readVersion?.();
    if (version === undefined) return super.findSessionWithUser(tenantId, sessionId);
    const key = `${tenantId}\u0000${sessionId}`;
    const kept = this.#keptSessions.get(key);
    if (kept?.version === version && kept.found.session.tenantId === tenantId && kept.found.session.id === sessionId) return kept.found;
    const found = await super.findSessionWithUser(tenantId, sessionId);
    if (!found) return undefined;
    if (this.#keptSessions.size >= KEPT_SESSIONS) this.#keptSessions.clear();
    const frozen = Object.freeze({ session: Object.freeze(found.session), user: Object.freeze(found.user) });
    this.#keptSessions.set(key, { version, found: frozen });
    return frozen;
  }

  /**
   * Opens the store: refuses a schema newer than this release knows, then
   * brings it up to date (or, with `migrate: false`, refuses one that is
   * behind). Migrations speak the columns' own snake_case names; queries go
   * through `CamelCasePlugin`.
   */
  static async open(db: Kysely<Database>, options: StoreOptions): Promise<KyselyAuthStore> {
    let applied: string[] = [];
    try {
      await checkSchema(db, options.migrate ?? true);
      if (options.migrate ?? true) applied = await migrate(db);
    } catch (error) {
      await db.destroy();
      throw error;
    }
    return new KyselyAuthStore(db.withPlugin(storeCase), options, applied);
  }

  async transaction<T>(work: (tx: StoreOperations) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      let failure: { error: unknown } | undefined;
      try {
        return await this.#db.transaction().execute(async (trx) => {
          const operations = new KyselyOperations(trx, this.hot);
          try {
            return await work(operations);
          } catch (error) {
            failure = { error };
            throw error;
          } finally {
            operations.end();
          }
        });
      } catch (thrown) {
        // A ROLLBACK that failed after the work did (the connection lost, say) never hides why the work failed.
        const error = failure !== undefined && thrown !== failure.error ? withRollbackFailure(failure.error, thrown) : thrown;
        if (attempt >= TRANSACTION_ATTEMPTS || !RETRYABLE_SQLSTATES.has((error as { code?: string }).code ?? '')) throw error;
      }
    }
  }

  listServerKeys() {
    return this.#db.selectFrom('serverKeys').selectAll().orderBy('kind').orderBy('generation').execute();
  }

  async replaceServerKeyMaterial(id: string, from: string, to: string): Promise<boolean> {
    const result = await this.#db.updateTable('serverKeys').set({ material: to }).where('id', '=', id).where('material', '=', from).executeTakeFirst();
    return result.numUpdatedRows === 1n;
  }

  async retireSigningKey(id: string, now: number): Promise<boolean> {
    return this.#db.transaction().execute(async (trx) => {
      // At READ COMMITTED, two retirements at once could each find the other's key still there to sign (a
      // key not yet active when one looked, active when the other did), and both succeed: the signing keys
      // are locked first (in one order, so that two never deadlock), and the second sees what the first did.
      // SQLite has no row locks and needs none: the update below is the transaction's first statement and
      // writes, so it holds the database's one write lock before it reads.
      if (this.dialect === 'postgres') {
        await trx.selectFrom('serverKeys').select('id').where('kind', '=', 'signing').orderBy('id').forUpdate().execute();
      }
      const result = await trx
        .updateTable('serverKeys')
        .set({ retiredAt: now, material: RETIRED_KEY_MATERIAL })
        .where('id', '=', id)
        .where('kind', '=', 'signing')
        .where('retiredAt', 'is', null)
        // Another key signs instead, and it is newer: the key that signs now is never retired, and a key that
        // does not sign yet only when one that does remains. Retiring never brings an older key back.
        .where(({ exists, selectFrom }) =>
          exists(
            selectFrom('serverKeys as other')
              .select('other.id')
              .where('other.kind', '=', 'signing')
              .where('other.id', '!=', id)
              .where('other.retiredAt', 'is', null)
              .where('other.activatesAt', '<=', now)
              .where((eb) => eb.or([eb('other.generation', '>', eb.ref('serverKeys.generation')), eb('serverKeys.activatesAt', '>', now)])),
          ),
        )
        .executeTakeFirst();
      return result.numUpdatedRows === 1n;
    });
  }

  async insertServerKey(key: ServerKeyRecord): Promise<boolean> {
    const inserted = await this.#db
      .insertInto('serverKeys')
      .values(key)
      .onConflict((conflict) => conflict.doNothing())
      .executeTakeFirst();
    return inserted.numInsertedOrUpdatedRows === 1n;
  }

  async prune(now: number, auditRetentionMs = Number.POSITIVE_INFINITY) {
    // Each statement is atomic on its own; together they need no transaction.
    {
      const states = await this.#db.deleteFrom('loginStates').where('expiresAt', '<=', now).executeTakeFirst();
      const records = await this.#db.deleteFrom('idempotencyRecords').where('expiresAt', '<=', now).executeTakeFirst();
      const graces = await this.#db
        .updateTable('refreshTokens')
        .set({ graceGrant: null })
        .where('graceGrant', 'is not', null)
        .where('graceExpiresAt', '<=', now)
        .executeTakeFirst();
      const audits = Number.isFinite(auditRetentionMs)
        ? Number((await this.#db.deleteFrom('auditEvents').where('at', '<=', now - auditRetentionMs).executeTakeFirst()).numDeletedRows)
        : 0;
      // Shared rate-limit counters whose window has closed (a new window starts a new row anyway).
      const counters = await sql`delete from rate_limits where expire <= ${now}`.execute(this.#db);
      return {
        rateLimitCounters: Number(counters.numAffectedRows ?? 0n),
        loginStates: Number(states.numDeletedRows),
        idempotencyRecords: Number(records.numDeletedRows),
        graceGrants: Number(graces.numUpdatedRows),
        auditEvents: audits,
      };
    }
  }

  async countRows() {
    const count = async (table: keyof Database) =>
      Number((await this.#db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
    return {
      users: await count('users'),
      loginStates: await count('loginStates'),
      sessions: await count('sessions'),
      refreshTokens: await count('refreshTokens'),
      idempotencyRecords: await count('idempotencyRecords'),
    };
  }

  settle(): Promise<void> {
    return this.#durability ? this.#durability.commits.settle() : Promise.resolve();
  }

  async ping(): Promise<void> {
    this.#durability?.commits.assertHealthy();
    await sql`select 1`.execute(this.#db);
  }

  async probeWrite(): Promise<void> {
    // As much as a few requests write (64 KiB), not a few bytes: a full disk may still take a write that fits in the
    // free space of the file's pages, and the storage must not seem back while a refresh's write would still fail.
    // Then the room is given back.
    const now = Date.now();
    const filler = randomBytes(STORAGE_PROBE_BYTES / 2).toString('hex');
    await sql`insert into storage_probe (id, written_at, filler) values (1, ${now}, ${filler}) on conflict (id) do update set written_at = excluded.written_at, filler = excluded.filler`.execute(this.#db);
    await sql`update storage_probe set filler = '' where id = 1`.execute(this.#db);
    await this.settle();
  }

  async close(): Promise<void> {
    try {
      await this.settle();
    } finally {
      // Group commit's background work (syncs, checkpoints) ends while the connection is still there.
      try {
        await this.#durability?.close();
      } finally {
        await this.#db.destroy();
      }
    }
  }
}
