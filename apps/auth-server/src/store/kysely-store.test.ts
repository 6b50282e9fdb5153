import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, Migrator, sql, SqliteDialect } from 'kysely';
import type { AuthStore } from './auth-store.js';
import { migrationProvider } from './migrations.js';
import { openSqliteStore } from './sqlite.js';

let dir: string;
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

async function seedSession(id = 'ses_1') {
  const user = await store.upsertUser({
    id: 'usr_1', tenantId: 't', issuer: 'https://idp', subject: 's', email: null, emailVerified: false, name: null, picture: null, createdAt: now, updatedAt: now,
  });
  await store.insertSession({
    id, tenantId: 't', userId: user.id, providerId: 'p', createdAt: now, lastRefreshedAt: now, expiresAt: now + 1000, idleExpiresAt: now + 500, revokedAt: null, revokedReason: null,
  });
}

describe('the SQLite store', () => {
  test('When a login state is consumed twice at once, then exactly one consumption wins', async () => {
    await store.insertLoginState({
      stateHash: 'h', tenantId: 't', providerId: 'p', redirectUri: 'https://app/cb', pkceVerifier: 'v', nonce: 'n', codeChallenge: null, createdAt: now, expiresAt: now + 600_000, consumedAt: null,
    });
    const results = await Promise.all(Array.from({ length: 10 }, () => store.consumeLoginState('h', 't', now)));
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(await store.consumeLoginState('h', 't', now)).toBeUndefined();
  });

  test('When a state of another tenant or an expired one is consumed, then nothing happens', async () => {
    await store.insertLoginState({
      stateHash: 'h', tenantId: 't', providerId: 'p', redirectUri: 'https://app/cb', pkceVerifier: 'v', nonce: 'n', codeChallenge: null, createdAt: now, expiresAt: now + 10, consumedAt: null,
    });
    expect(await store.consumeLoginState('h', 'other', now)).toBeUndefined();
    expect(await store.consumeLoginState('h', 't', now + 10)).toBeUndefined();
  });

  test('When the same user signs in again, then the user row is updated, not duplicated', async () => {
    await seedSession();
    const again = await store.upsertUser({
      id: 'usr_2', tenantId: 't', issuer: 'https://idp', subject: 's', email: 'new@example.com', emailVerified: true, name: 'N', picture: null, createdAt: now + 1, updatedAt: now + 1,
    });
    expect(again.id).toBe('usr_1');
    expect(again.email).toBe('new@example.com');
    expect((await store.countRows()).users).toBe(1);
  });

  test('When a session was revoked or has expired, then a refresh cannot touch it', async () => {
    await seedSession();
    expect(await store.touchSession('t', 'ses_1', now + 100, now + 600)).toBe(true);
    expect(await store.touchSession('t', 'ses_1', now + 1000, now + 1000)).toBe(false);
    expect(await store.revokeSession('t', 'ses_1', 'logout', now + 200)).toBe(true);
    expect(await store.touchSession('t', 'ses_1', now + 300, now + 800)).toBe(false);
    expect(await store.revokeSession('t', 'ses_1', 'logout', now + 300)).toBe(false);
  });

  test('When a refresh token is retired twice at once, then exactly one retirement wins', async () => {
    await seedSession();
    await store.insertRefreshToken({ id: 'rtk_1', tenantId: 't', sessionId: 'ses_1', tokenHash: 'th', createdAt: now, retiredAt: null, replacedBy: null, graceGrant: null, graceExpiresAt: null });
    const retire = (by: string) => store.retireRefreshToken('t', 'rtk_1', { retiredAt: now, replacedBy: by, graceGrant: 'g', graceExpiresAt: now + 10 });
    const results = await Promise.all([retire('a'), retire('b'), retire('c')]);
    expect(results.filter(Boolean)).toHaveLength(1);
  });

  test('When a lookup or a change names another tenant, then it finds and changes nothing', async () => {
    await seedSession();
    await store.insertRefreshToken({ id: 'rtk_1', tenantId: 't', sessionId: 'ses_1', tokenHash: 'th', createdAt: now, retiredAt: null, replacedBy: null, graceGrant: null, graceExpiresAt: null });
    expect(await store.findRefreshTokenByHash('other', 'th')).toBeUndefined();
    expect(await store.findRefreshToken('other', 'rtk_1')).toBeUndefined();
    expect(await store.findSession('other', 'ses_1')).toBeUndefined();
    expect(await store.findUser('other', 'usr_1')).toBeUndefined();
    expect(await store.touchSession('other', 'ses_1', now + 1, now + 400)).toBe(false);
    expect(await store.revokeSession('other', 'ses_1', 'x', now + 1)).toBe(false);
    expect(await store.retireRefreshToken('other', 'rtk_1', { retiredAt: now, replacedBy: 'x', graceGrant: 'g', graceExpiresAt: now + 10 })).toBe(false);
    expect(await store.listActiveSessions('other', 'usr_1', now, { limit: 10 })).toEqual([]);
    // …and the tenant's own calls see and change them.
    expect(await store.findRefreshTokenByHash('t', 'th')).toMatchObject({ id: 'rtk_1' });
    expect(await store.retireRefreshToken('t', 'rtk_1', { retiredAt: now, replacedBy: 'x', graceGrant: 'g', graceExpiresAt: now + 10 })).toBe(true);
  });

  test('When a transaction fails, then none of its writes remain', async () => {
    await seedSession();
    await expect(
      store.transaction(async (tx) => {
        await tx.insertRefreshToken({ id: 'rtk_x', tenantId: 't', sessionId: 'ses_1', tokenHash: 'x', createdAt: now, retiredAt: null, replacedBy: null, graceGrant: null, graceExpiresAt: null });
        await tx.revokeSession('t', 'ses_1', 'test', now);
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect((await store.countRows()).refreshTokens).toBe(0);
    expect((await store.findSession('t', 'ses_1'))?.revokedAt).toBeNull();
  });

  test('When idempotency keys are claimed, then the first claims, a same request waits, a different one is refused, and an abandoned claim is taken over', async () => {
    const scope = { tenantId: 't', operation: 'op', subject: 'ses_1', key: 'k' };
    const timing = { retentionMs: 1000, lockMs: 100 };
    const claims = await Promise.all(Array.from({ length: 5 }, () => store.transaction((tx) => tx.claimIdempotencyKey(scope, 'fp', now, timing))));
    expect(claims.filter((c) => c.kind === 'claimed')).toHaveLength(1);
    expect(claims.filter((c) => c.kind === 'in_flight')).toHaveLength(4);
    expect((await store.claimIdempotencyKey(scope, 'other', now, timing)).kind).toBe('mismatch');
    expect((await store.claimIdempotencyKey(scope, 'fp', now + 100, timing)).kind).toBe('claimed');
    await store.completeIdempotencyKey(scope, 201, 'sealed');
    expect(await store.claimIdempotencyKey(scope, 'fp', now + 200, timing)).toMatchObject({ kind: 'completed', record: { responseStatus: 201, response: 'sealed' } });
    expect((await store.claimIdempotencyKey({ ...scope, subject: 'ses_2' }, 'other', now, timing)).kind).toBe('claimed');
    expect(await store.findIdempotencyRecord(scope, now + 200)).toMatchObject({ status: 'completed', tenantId: 't' });
    expect(await store.findIdempotencyRecord({ ...scope, key: 'unknown' }, now + 200)).toBeUndefined();
    expect((await store.claimIdempotencyKey(scope, 'other', now + 1000, timing)).kind).toBe('claimed');
  });

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

  test('When an abandoned claim is taken over, then the new claim holds its own lock, and of several takers only one wins', async () => {
    const scope = { tenantId: 't', operation: 'op', subject: 's', key: 'k' };
    const timing = { retentionMs: 10_000, lockMs: 100 };
    expect((await store.claimIdempotencyKey(scope, 'fp', now, timing)).kind).toBe('claimed');
    const takers = await Promise.all(Array.from({ length: 5 }, () => store.transaction((tx) => tx.claimIdempotencyKey(scope, 'fp', now + 100, timing))));
    expect(takers.filter((c) => c.kind === 'claimed')).toHaveLength(1);
    expect(takers.filter((c) => c.kind === 'in_flight')).toEqual(Array.from({ length: 4 }, () => ({ kind: 'in_flight', lockedUntil: now + 200 })));
    expect((await store.claimIdempotencyKey(scope, 'fp', now + 199, timing)).kind).toBe('in_flight');
    expect((await store.claimIdempotencyKey(scope, 'fp', now + 200, timing)).kind).toBe('claimed');
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

  test('When the database is gone, then ping fails', async () => {
    const path = join(dir, 'pinged.sqlite');
    const pinged = await openSqliteStore(path);
    await pinged.ping();
    await pinged.close();
    await expect(pinged.ping()).rejects.toThrow();
  });

  test('When the store is reopened, then migrations do not run twice and data is kept', async () => {
    await seedSession();
    await store.close();
    store = await openSqliteStore(join(dir, 'auth.sqlite'));
    expect((await store.countRows()).sessions).toBe(1);
  });
});
