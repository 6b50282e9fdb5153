import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import SqliteDatabase from 'better-sqlite3';
import type { AuthStore } from '../auth-store.js';
import { openSqliteStore } from './sqlite-store.js';

let dir: string;
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
