import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
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
