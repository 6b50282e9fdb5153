import { randomBytes } from 'node:crypto';
import { CamelCasePlugin, Kysely, sql } from 'kysely';
import type { AuthStore, StoreOperations } from './auth-store.js';
import { KyselyOperations } from './kysely-operations.js';
import { checkSchema, migrate } from './migrations.js';
import { KyselyQueryRunner, type StoreQueryRunner } from './query-runner.js';
import type { Database, ServerKeyRecord } from './schema.js';

/**
 * What makes commits durable where a COMMIT alone does not (SQLite's group
 * commit, which syncs the log after the commits it covers).
 */
export interface Durability {
  /** Resolves when everything committed so far is durable. */
  settle(): Promise<void>;
  /** Throws once commits can no longer be made durable. */
  assertHealthy(): void;
  /** Ends its work in the background; the store's connection is still open. */
  close(): Promise<void>;
}

export interface StoreOptions {
  dialect: AuthStore['dialect'];
  /**
   * Bring the schema up to date on open (the default). When false, a schema
   * that lacks a migration is refused: `pnpm migrate` applies it first.
   */
  migrate?: boolean;
  /**
   * How the schema's snake_case columns become the records' camelCase: a
   * `CamelCasePlugin`, or one that maps exactly as it does (a runner that
   * reads rows past Kysely maps them with the same one).
   */
  naming?: CamelCasePlugin;
  /** How the hot queries run (`hotQueries`), given the store's Kysely; the default builds each and hands it to Kysely. */
  runner?: (db: Kysely<Database>) => StoreQueryRunner;
  /** Where a COMMIT alone is not durable: what `ping`, `probeWrite` and `close` wait for or check. */
  durability?: Durability;
  /** The database locks rows (`FOR UPDATE`): PostgreSQL. Without, a transaction's first write locks the whole database (SQLite). */
  rowLocks?: boolean;
}

/** What readiness writes to learn whether the storage takes writes again. */
const STORAGE_PROBE_BYTES = 64 * 1024;

/** The error of the work, which the failed rollback after it would have replaced, with that failure beside it. */
function withRollbackFailure(error: unknown, rollbackFailure: unknown): unknown {
  if (error instanceof Error && !('rollbackFailure' in error)) Object.defineProperty(error, 'rollbackFailure', { value: rollbackFailure, enumerable: false });
  return error;
}

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
  readonly #runner: StoreQueryRunner;
  readonly #durability: Durability | undefined;
  readonly #rowLocks: boolean;
  readonly dialect: AuthStore['dialect'];
  /** The migrations this open applied. */
  readonly applied: string[];

  private constructor(db: Kysely<Database>, options: StoreOptions, applied: string[]) {
    const runner = options.runner?.(db) ?? new KyselyQueryRunner(db);
    super(db, runner);
    this.#runner = runner;
    this.applied = applied;
    this.dialect = options.dialect;
    this.#durability = options.durability;
    this.#rowLocks = options.rowLocks ?? false;
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
    return new KyselyAuthStore(db.withPlugin(options.naming ?? new CamelCasePlugin()), options, applied);
  }

  async transaction<T>(work: (tx: StoreOperations) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      let failure: { error: unknown } | undefined;
      try {
        return await this.db.transaction().execute(async (trx) => {
          const runner = this.#runner.transaction(trx);
          try {
            return await work(new KyselyOperations(trx, runner));
          } catch (error) {
            failure = { error };
            throw error;
          } finally {
            runner.end();
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
    return this.db.selectFrom('serverKeys').selectAll().orderBy('kind').orderBy('generation').execute();
  }

  async replaceServerKeyMaterial(id: string, from: string, to: string): Promise<boolean> {
    const result = await this.db.updateTable('serverKeys').set({ material: to }).where('id', '=', id).where('material', '=', from).executeTakeFirst();
    return result.numUpdatedRows === 1n;
  }

  async retireSigningKey(id: string, now: number): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      // At READ COMMITTED, two retirements at once could each find the other's key still there to sign (a
      // key not yet active when one looked, active when the other did), and both succeed: the signing keys
      // are locked first (in one order, so that two never deadlock), and the second sees what the first did.
      // SQLite has no row locks and needs none: the update below is the transaction's first statement and
      // writes, so it holds the database's one write lock before it reads.
      if (this.#rowLocks) {
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
    const inserted = await this.db
      .insertInto('serverKeys')
      .values(key)
      .onConflict((conflict) => conflict.doNothing())
      .executeTakeFirst();
    return inserted.numInsertedOrUpdatedRows === 1n;
  }

  async prune(now: number, auditRetentionMs = Number.POSITIVE_INFINITY) {
    // Each statement is atomic on its own; together they need no transaction.
    {
      const states = await this.db.deleteFrom('loginStates').where('expiresAt', '<=', now).executeTakeFirst();
      const records = await this.db.deleteFrom('idempotencyRecords').where('expiresAt', '<=', now).executeTakeFirst();
      const graces = await this.db
        .updateTable('refreshTokens')
        .set({ graceGrant: null })
        .where('graceGrant', 'is not', null)
        .where('graceExpiresAt', '<=', now)
        .executeTakeFirst();
      const audits = Number.isFinite(auditRetentionMs)
        ? Number((await this.db.deleteFrom('auditEvents').where('at', '<=', now - auditRetentionMs).executeTakeFirst()).numDeletedRows)
        : 0;
      // The ID tokens of sessions that ended without a revocation (one drops its own): they are for ending a live session.
      const idTokens = await this.db
        .deleteFrom('sessionIdTokens')
        .where('sessionId', 'in', (eb) =>
          eb
            .selectFrom('sessions')
            .select('sessions.id')
            .where((s) => s.or([s('sessions.revokedAt', 'is not', null), s('sessions.expiresAt', '<=', now), s('sessions.idleExpiresAt', '<=', now)])),
        )
        .executeTakeFirst();
      const jtis = await this.db.deleteFrom('logoutTokenJtis').where('expiresAt', '<=', now).executeTakeFirst();
      // Shared rate-limit counters whose window has closed (a new window starts a new row anyway).
      const counters = await sql`delete from rate_limits where expire <= ${now}`.execute(this.db);
      return {
        rateLimitCounters: Number(counters.numAffectedRows ?? 0n),
        loginStates: Number(states.numDeletedRows),
        idempotencyRecords: Number(records.numDeletedRows),
        graceGrants: Number(graces.numUpdatedRows),
        auditEvents: audits,
        idTokens: Number(idTokens.numDeletedRows),
        logoutTokenJtis: Number(jtis.numDeletedRows),
      };
    }
  }

  async countRows() {
    const count = async (table: keyof Database) =>
      Number((await this.db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
    return {
      users: await count('users'),
      loginStates: await count('loginStates'),
      sessions: await count('sessions'),
      refreshTokens: await count('refreshTokens'),
      idempotencyRecords: await count('idempotencyRecords'),
    };
  }

  async ping(): Promise<void> {
    this.#durability?.assertHealthy();
    await sql`select 1`.execute(this.db);
  }

  async probeWrite(): Promise<void> {
    // As much as a few requests write (64 KiB), not a few bytes: a full disk may still take a write that fits in the
    // free space of the file's pages, and the storage must not seem back while a refresh's write would still fail.
    // Then the room is given back.
    const now = Date.now();
    const filler = randomBytes(STORAGE_PROBE_BYTES / 2).toString('hex');
    await sql`insert into storage_probe (id, written_at, filler) values (1, ${now}, ${filler}) on conflict (id) do update set written_at = excluded.written_at, filler = excluded.filler`.execute(this.db);
    await sql`update storage_probe set filler = '' where id = 1`.execute(this.db);
    await this.#durability?.settle();
  }

  async close(): Promise<void> {
    try {
      await this.#durability?.settle();
    } finally {
      // The durability's background work (syncs, checkpoints) ends while the connection is still there.
      try {
        await this.#durability?.close();
      } finally {
        await this.db.destroy();
      }
    }
  }
}
