import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, Migrator, sql, SqliteDialect } from 'kysely';
import type { AuthStore } from '../auth-store.js';
import { migrationProvider } from '../migrations.js';
import { openSqliteStore } from './sqlite-store.js';

let dir: string;
let umask: number;
// The databases of earlier releases that these tests make by hand are private, as the store refuses others.
beforeAll(() => void (umask = process.umask(0o077)));
afterAll(() => void process.umask(umask));
let store: AuthStore;
const now = 1_800_000_000_000;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'aimable-store-'));
  ({ store } = await openSqliteStore(join(dir, 'auth.sqlite')));
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
    const { store: upgraded } = await openSqliteStore(path);
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
    const { store: upgraded } = await openSqliteStore(path);
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
    const { store: upgraded } = await openSqliteStore(path);
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
