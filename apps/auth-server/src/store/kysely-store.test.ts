import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, Migrator, sql, SqliteDialect } from 'kysely';
import type { AuthStore } from './auth-store.js';
import { migrationProvider } from './migrations.js';
import { openSqliteStore } from './sqlite.js';

let dir: string;
let umask: number;
// The databases of earlier releases that these tests make by hand are private, as the store refuses others.
beforeAll(() => void (umask = process.umask(0o077)));
afterAll(() => void process.umask(umask));
let store: AuthStore;
const now = 1_800_000_000_000;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'aimable-store-'));
  store = await openSqliteStore(join(dir, 'auth.sqlite'));
});
afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the SQLite store: upgrades of its schema', () => {
  test('When a database from before idempotency subjects is opened, then its records are kept, under their tenant', async () => {
    const path = join(dir, 'old.sqlite');
    const db = new Kysely<any>({ dialect: new SqliteDialect({ database: new SqliteDatabase(path) }) });
    await new Migrator({ db, provider: migrationProvider }).migrateTo('0001_initial');
    await db
      .insertInto('idempotency_records')
      .values({ tenant_id: 't', operation: 'createSession', idempotency_key: 'k', fingerprint: 'f', status: 'completed', response_status: 201, response: 'sealed', created_at: now, expires_at: now + 1000, locked_until: now })
      .execute();
    await db.destroy();
    const upgraded = await openSqliteStore(path);
    try {
      expect(await upgraded.findIdempotencyRecord({ operation: 'createSession', subject: 't', key: 'k' }, now)).toMatchObject({ tenantId: 't', response: 'sealed' });
      expect((await upgraded.claimIdempotencyKey({ tenantId: 't', operation: 'createSession', subject: 'verifier-hash', key: 'k' }, 'f2', now, { retentionMs: 1000, lockMs: 100 })).kind).toBe('claimed');
    } finally {
      await upgraded.close();
    }
  });

  test('When a database holds refusals stored by an earlier release, then the unchallenged 401s and the retryable ones are dropped, and the rest kept', async () => {
    const path = join(dir, 'refusals.sqlite');
    const db = new Kysely<any>({ dialect: new SqliteDialect({ database: new SqliteDatabase(path) }) });
    await new Migrator({ db, provider: migrationProvider }).migrateTo('0002_idempotency_subject');
    const record = (key: string, status: number) => ({ tenant_id: 't', operation: 'refreshSession', subject: 's', idempotency_key: key, fingerprint: 'f', status: 'completed', response_status: status, response: 'sealed', created_at: now, expires_at: now + 1000, locked_until: now });
    await db.insertInto('idempotency_records').values([record('ok', 200), record('bad', 400), record('unauthorized', 401), record('limited', 429), record('busy', 409)]).execute();
    await db.insertInto('idempotency_records').values({ ...record('running', 401), status: 'in_flight', response_status: null, response: null }).execute();
    await db.destroy();
    const upgraded = await openSqliteStore(path);
    try {
      const kept = async (key: string) => (await upgraded.findIdempotencyRecord({ operation: 'refreshSession', subject: 's', key }, now)) !== undefined;
      expect(await Promise.all(['ok', 'bad', 'unauthorized', 'limited', 'busy', 'running'].map(kept))).toEqual([true, true, false, false, false, true]);
    } finally {
      await upgraded.close();
    }
  });

  test('When the upgrade was interrupted half-way, then the next start finishes it', async () => {
    const path = join(dir, 'interrupted.sqlite');
    const db = new Kysely<any>({ dialect: new SqliteDialect({ database: new SqliteDatabase(path) }) });
    await new Migrator({ db, provider: migrationProvider }).migrateTo('0001_initial');
    await db
      .insertInto('idempotency_records')
      .values({ tenant_id: 't', operation: 'refreshSession', idempotency_key: 'k', fingerprint: 'f', status: 'completed', response_status: 200, response: 'sealed', created_at: now, expires_at: now + 1000, locked_until: now })
      .execute();
    // What a crash after the first steps leaves: the new table, part of the copy, the old table still there.
    await db.schema
      .createTable('idempotency_records_v2')
      .addColumn('tenant_id', 'varchar(64)', (c) => c.notNull())
      .addColumn('operation', 'varchar(64)', (c) => c.notNull())
      .addColumn('subject', 'varchar(128)', (c) => c.notNull())
      .addColumn('idempotency_key', 'varchar(255)', (c) => c.notNull())
      .addColumn('fingerprint', 'varchar(64)', (c) => c.notNull())
      .addColumn('status', 'varchar(16)', (c) => c.notNull())
      .addColumn('response_status', 'integer')
      .addColumn('response', 'text')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .addColumn('locked_until', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('idempotency_records_v2_pk', ['operation', 'subject', 'idempotency_key'])
      .execute();
    await db
      .insertInto('idempotency_records_v2')
      .values({ tenant_id: 't', operation: 'refreshSession', subject: 't', idempotency_key: 'k', fingerprint: 'f', status: 'completed', response_status: 200, response: 'sealed', created_at: now, expires_at: now + 1000, locked_until: now })
      .execute();
    await db.destroy();
    const upgraded = await openSqliteStore(path);
    try {
      expect(await upgraded.findIdempotencyRecord({ operation: 'refreshSession', subject: 't', key: 'k' }, now)).toMatchObject({ response: 'sealed' });
      expect((await upgraded.countRows()).idempotencyRecords).toBe(1);
    } finally {
      await upgraded.close();
    }
  });

  test('When a migration fails, then opening the store fails with a message that names it', async () => {
    const path = join(dir, 'broken.sqlite');
    const database = new SqliteDatabase(path);
    database.exec('create table users (id text)');
    database.close();
    await expect(openSqliteStore(path)).rejects.toThrow('Database migration 0001_initial failed');
    await expect(openSqliteStore(path)).rejects.toHaveProperty('cause');
  });

  test('When a migration fails after others succeeded in the same start, then the message names the one that failed', async () => {
    const path = join(dir, 'half.sqlite');
    const database = new SqliteDatabase(path);
    // 0001 runs; 0002 meets a table of its own name that it cannot fill.
    database.exec('create table idempotency_records_v2 (junk text)');
    database.close();
    await expect(openSqliteStore(path)).rejects.toThrow('Database migration 0002_idempotency_subject failed');
  });

  test('When a later migration fails, then the message names that one', async () => {
    const path = join(dir, 'broken-later.sqlite');
    const db = new Kysely<any>({ dialect: new SqliteDialect({ database: new SqliteDatabase(path) }) });
    await new Migrator({ db, provider: migrationProvider }).migrateTo('0001_initial');
    await sql`create view idempotency_records_v2 as select 1 as x`.execute(db);
    await db.destroy();
    await expect(openSqliteStore(path)).rejects.toThrow('Database migration 0002_idempotency_subject failed');
  });
});

describe('the SQLite store: sessions read with their users', () => {
  async function seed() {
    await store.upsertUser({ id: 'usr_1', tenantId: 't', issuer: 'https://idp', subject: 's', email: 'a@example.com', emailVerified: true, name: 'A', picture: null, createdAt: now, updatedAt: now });
    await store.insertSession({ id: 'ses_1', tenantId: 't', userId: 'usr_1', providerId: 'p', createdAt: now, lastRefreshedAt: now, expiresAt: now + 1000, idleExpiresAt: now + 500, revokedAt: null, revokedReason: null });
  }

  test('When a session is read again and nothing changed, then the same is answered; when this store revokes it, the next read says so', async () => {
    await seed();
    const first = await store.findSessionWithUser('t', 'ses_1');
    expect(await store.findSessionWithUser('t', 'ses_1')).toEqual(first);
    expect(await store.revokeSession('t', 'ses_1', 'logout', now + 1)).toBe(true);
    expect((await store.findSessionWithUser('t', 'ses_1'))?.session).toMatchObject({ revokedAt: now + 1, revokedReason: 'logout' });
  });

  test('When another connection (an operator command) revokes the session or renames the user, then the next read sees it at once', async () => {
    await seed();
    expect((await store.findSessionWithUser('t', 'ses_1'))?.session.revokedAt).toBeNull();
    const other = new SqliteDatabase(join(dir, 'auth.sqlite'));
    try {
      other.prepare("UPDATE users SET name = 'B' WHERE id = 'usr_1'").run();
      expect((await store.findSessionWithUser('t', 'ses_1'))?.user.name).toBe('B');
      other.prepare("UPDATE sessions SET revoked_at = ?, revoked_reason = 'revoked' WHERE id = 'ses_1'").run(now + 2);
      expect((await store.findSessionWithUser('t', 'ses_1'))?.session.revokedAt).toBe(now + 2);
    } finally {
      other.close();
    }
  });

  test('When a session is read for another tenant, then it is not found, even once it was read for its own', async () => {
    await seed();
    expect(await store.findSessionWithUser('t', 'ses_1')).toBeDefined();
    expect(await store.findSessionWithUser('other', 'ses_1')).toBeUndefined();
  });

  test('When what was read is kept, then it cannot be changed by whoever got it', async () => {
    await seed();
    const found = (await store.findSessionWithUser('t', 'ses_1'))!;
    expect(() => Object.assign(found.session, { revokedAt: null, userId: 'usr_2' })).toThrow(TypeError);
    expect((await store.findSessionWithUser('t', 'ses_1'))?.session.userId).toBe('usr_1');
  });
});

describe('the SQLite store: the hot paths answered at once', () => {
  const token = { id: 'rtk_1', tenantId: 't', sessionId: 'ses_1', tokenHash: 'hash-1', createdAt: now, retiredAt: null, replacedBy: null, graceGrant: null, graceExpiresAt: null };

  async function seed() {
    await store.upsertUser({ id: 'usr_1', tenantId: 't', issuer: 'https://idp', subject: 's', email: 'a@example.com', emailVerified: true, name: 'A', picture: null, createdAt: now, updatedAt: now });
    await store.insertSession({ id: 'ses_1', tenantId: 't', userId: 'usr_1', providerId: 'p', createdAt: now, lastRefreshedAt: now, expiresAt: now + 1000, idleExpiresAt: now + 500, revokedAt: null, revokedReason: null });
  }

  /** Opens a transaction that has written and then waits, holding the connection, until `end` is called. */
  function heldTransaction(work: (tx: Parameters<Parameters<AuthStore['transaction']>[0]>[0]) => Promise<void>) {
    let end!: (commit: boolean) => void;
    let wrote!: () => void;
    const written = new Promise<void>((resolve) => (wrote = resolve));
    const ended = new Promise<boolean>((resolve) => (end = resolve));
    const done = store
      .transaction(async (tx) => {
        await work(tx);
        wrote();
        if (!(await ended)) throw new Error('rolled back by the test');
      })
      .catch((error: Error) => error.message);
    return { written, end, done };
  }

  test('When a transaction has written and not yet committed, then a read outside it waits for it, and never sees what it rolls back', async () => {
    await seed();
    const held = heldTransaction((tx) => tx.insertRefreshToken(token));
    await held.written;
    const read = store.findRefreshTokenByHash('t', 'hash-1');
    const touched = store.touchSession('t', 'ses_1', now + 1, now + 400);
    let answered = false;
    void read.then(() => (answered = true));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(answered).toBe(false);
    held.end(false);
    expect(await held.done).toBe('rolled back by the test');
    expect(await read).toBeUndefined();
    expect(await touched).toBe(true);
    expect((await store.findSession('t', 'ses_1'))?.lastRefreshedAt).toBe(now + 1);
  });

  test('When a query waits for the connection, then its answer is the one it gets at once when the connection is free', async () => {
    await seed();
    await store.insertRefreshToken(token);
    const held = heldTransaction(async () => undefined);
    await held.written;
    // In the order they run: the touch first, so that both reads of the session see it.
    const waited = {
      touched: store.touchSession('t', 'ses_1', now + 1, now + 400),
      token: store.findRefreshTokenByHash('t', 'hash-1'),
      byId: store.findRefreshToken('t', 'rtk_1'),
      session: store.findSession('t', 'ses_1'),
      user: store.findUser('t', 'usr_1'),
      withUser: store.findSessionWithUser('t', 'ses_1'),
      missing: store.findRefreshTokenByHash('t', 'no-such-hash'),
      notTouched: store.touchSession('t', 'no-such-session', now + 1, now + 400),
    };
    held.end(true);
    await held.done;
    const atOnce = {
      touched: await store.touchSession('t', 'ses_1', now + 1, now + 400),
      token: await store.findRefreshTokenByHash('t', 'hash-1'),
      byId: await store.findRefreshToken('t', 'rtk_1'),
      session: await store.findSession('t', 'ses_1'),
      user: await store.findUser('t', 'usr_1'),
      withUser: await store.findSessionWithUser('t', 'ses_1'),
      missing: await store.findRefreshTokenByHash('t', 'no-such-hash'),
      notTouched: await store.touchSession('t', 'no-such-session', now + 1, now + 400),
    };
    const answers = Object.fromEntries(await Promise.all(Object.entries(waited).map(async ([name, answer]) => [name, await answer])));
    expect(atOnce).toEqual(answers);
    expect(atOnce.token).toEqual(token);
    expect(atOnce.session).toMatchObject({ id: 'ses_1', userId: 'usr_1', lastRefreshedAt: now + 1, idleExpiresAt: now + 400 });
    expect(atOnce.user).toMatchObject({ id: 'usr_1', emailVerified: true, name: 'A' });
    expect(atOnce.withUser).toEqual({ session: atOnce.session, user: atOnce.user });
    expect(atOnce.notTouched).toBe(false);
  });

  test('When a transaction reads what it wrote, then it sees it, and after a rollback nothing of it is left', async () => {
    await seed();
    const seen: unknown[] = [];
    await expect(
      store.transaction(async (tx) => {
        await tx.insertRefreshToken(token);
        seen.push(await tx.findRefreshTokenByHash('t', 'hash-1'));
        expect(await tx.retireRefreshToken('t', 'rtk_1', { retiredAt: now + 1, replacedBy: 'rtk_2', graceGrant: 'sealed', graceExpiresAt: now + 2 })).toBe(true);
        seen.push(await tx.findRefreshToken('t', 'rtk_1'));
        throw new Error('lost');
      }),
    ).rejects.toThrow('lost');
    expect(seen).toEqual([token, { ...token, retiredAt: now + 1, replacedBy: 'rtk_2', graceGrant: 'sealed', graceExpiresAt: now + 2 }]);
    expect(await store.findRefreshTokenByHash('t', 'hash-1')).toBeUndefined();
  });

  const event = (id: string) => ({ id, tenantId: 't', type: 'login' as const, at: 1, requestId: null, sessionId: null, userId: null, clientAddress: null });

  test('When a branch of a failed transaction writes after its rollback, then the write is refused and nothing of it is kept', async () => {
    let late: Promise<unknown> | undefined;
    await expect(
      store.transaction(async (tx) => {
        late = new Promise((resolve) => setTimeout(resolve, 5)).then(() => tx.insertAuditEvent(event('aud_late')));
        late.catch(() => undefined);
        throw new Error('lost');
      }),
    ).rejects.toThrow('lost');
    await expect(late).rejects.toThrow('Transaction is already rolled back');
    expect(await store.listAuditEvents('t', { limit: 10 })).toEqual([]);
  });

  test('When a transaction that ended is used while another holds the connection, then it neither reads nor writes in that one', async () => {
    await seed();
    await store.insertRefreshToken(token);
    let leaked!: Parameters<Parameters<AuthStore['transaction']>[0]>[0];
    await store.transaction(async (tx) => void (leaked = tx));
    const other = heldTransaction((tx) => tx.insertAuditEvent(event('aud_other')));
    await other.written;
    await expect(leaked.findRefreshTokenByHash('t', 'hash-1')).rejects.toThrow('Transaction is already committed');
    await expect(leaked.insertAuditEvent(event('aud_leaked'))).rejects.toThrow('Transaction is already committed');
    other.end(false);
    await other.done;
    expect(await store.listAuditEvents('t', { limit: 10 })).toEqual([]);
  });
});
