/**
 * The store conformance suite: what every store must do, on SQLite (`pnpm
 * test`) and on PostgreSQL (`pnpm test:postgres`) alike, this same file.
 * Where two requests race on PostgreSQL, they race from two pools of their
 * own, as two server instances would; SQLite serves one instance, and its
 * races are between the requests of that one.
 */
import { afterAll, afterEach, beforeEach, describe, expect, test } from 'vitest';
import { storeUnderTest } from '../../test/support/store-under-test.js';
import { KeyRing, rotateKeys } from '../tokens/key-ring.js';
import type { AuthStore } from './auth-store.js';

const under = storeUnderTest();
let store: AuthStore;
let other: AuthStore | undefined;
const now = 1_800_000_000_000;

beforeEach(async () => {
  await under.fresh();
  store = await under.open();
});
afterEach(async () => {
  await store.close();
  await other?.close();
  other = undefined;
});
afterAll(() => under.dispose());

/** A second instance on the same database (on SQLite, the one instance it serves). */
async function secondInstance(): Promise<AuthStore> {
  if (under.dialect === 'sqlite') return store;
  other = await under.open();
  return other;
}

async function seedSession(id = 'ses_1') {
  const user = await store.upsertUser({
    id: 'usr_1', tenantId: 't', issuer: 'https://idp', subject: 's', email: null, emailVerified: false, name: null, picture: null, createdAt: now, updatedAt: now,
  });
  await store.insertSession({
    id, tenantId: 't', userId: user.id, providerId: 'p', createdAt: now, lastRefreshedAt: now, expiresAt: now + 1000, idleExpiresAt: now + 500, revokedAt: null, revokedReason: null,
  });
}

const loginState = (expiresAt = now + 600_000) => ({
  stateHash: 'h', tenantId: 't', providerId: 'p', redirectUri: 'https://app/cb', pkceVerifier: 'v', nonce: 'n', codeChallenge: null, createdAt: now, expiresAt, consumedAt: null,
});

describe(`the ${under.dialect} store`, () => {
  test('When a login state is consumed many times at once from two instances, then exactly one consumption wins', async () => {
    const b = await secondInstance();
    await store.insertLoginState(loginState());
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? b : store).consumeLoginState('h', 't', now)));
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(results.find(Boolean)).toMatchObject({ stateHash: 'h', consumedAt: now });
    expect(await store.consumeLoginState('h', 't', now)).toBeUndefined();
  });

  test('When a state of another tenant or an expired one is consumed, then nothing happens; a restored one can be consumed again', async () => {
    await store.insertLoginState(loginState(now + 10));
    expect(await store.consumeLoginState('h', 'other', now)).toBeUndefined();
    expect(await store.consumeLoginState('h', 't', now + 10)).toBeUndefined();
    expect(await store.consumeLoginState('h', 't', now)).toBeDefined();
    await store.restoreLoginState('h', now);
    expect(await store.findLiveLoginState('h', now)).toBeDefined();
  });

  test('When a row is read back, then its times are numbers, exactly as written', async () => {
    await store.insertLoginState(loginState(now + 600_000));
    const state = await store.findLoginState('h', now);
    expect(state?.createdAt).toBe(now);
    expect(state?.expiresAt).toBe(now + 600_000);
    await seedSession();
    const session = await store.findSession('t', 'ses_1');
    expect(typeof session?.expiresAt).toBe('number');
    expect(await store.countRows()).toEqual({ users: 1, loginStates: 1, sessions: 1, refreshTokens: 0, idempotencyRecords: 0 });
  });

  test('When a session is read with its user, then both come back exactly as the separate lookups give them; another tenant finds neither', async () => {
    await seedSession();
    const both = await store.findSessionWithUser('t', 'ses_1');
    expect(both).toEqual({ session: await store.findSession('t', 'ses_1'), user: await store.findUser('t', 'usr_1') });
    expect(both?.user.emailVerified).toBe(false);
    expect(typeof both?.session.expiresAt).toBe('number');
    expect(await store.findSessionWithUser('other', 'ses_1')).toBeUndefined();
    expect(await store.findSessionWithUser('t', 'ses_missing')).toBeUndefined();
  });

  test('When the same user signs in again, then the user row is updated, not duplicated', async () => {
    await seedSession();
    const again = await store.upsertUser({
      id: 'usr_2', tenantId: 't', issuer: 'https://idp', subject: 's', email: 'new@example.com', emailVerified: true, name: 'N', picture: null, createdAt: now + 1, updatedAt: now + 1,
    });
    expect(again).toMatchObject({ id: 'usr_1', email: 'new@example.com', emailVerified: true });
    expect((await store.countRows()).users).toBe(1);
  });

  test('When the same user signs in again and the provider names no one, then the stored name stays; a new name replaces it', async () => {
    const user = (name: string | null, at: number) => ({
      id: `usr_${at}`, tenantId: 't', issuer: 'https://idp', subject: 's', email: 'a@example.com', emailVerified: true, name, picture: null, createdAt: at, updatedAt: at,
    });
    await store.upsertUser(user('Ada Lovelace', now));
    expect(await store.upsertUser(user(null, now + 1))).toMatchObject({ id: `usr_${now}`, name: 'Ada Lovelace', updatedAt: now + 1 });
    expect(await store.upsertUser(user('Ada King', now + 2))).toMatchObject({ name: 'Ada King' });
  });

  test('When the provider returns to the callback, then the name it gave is kept with the login state; a later return changes nothing', async () => {
    await store.insertLoginState(loginState());
    expect(await store.markLoginReturned('h', now, 'Ada Lovelace')).toBe(true);
    expect(await store.markLoginReturned('h', now + 1, 'Mallory')).toBe(false);
    expect(await store.consumeLoginState('h', 't', now + 2)).toMatchObject({ name: 'Ada Lovelace', returnedAt: now });
  });

  test('When a session was revoked or has expired, then a refresh cannot touch it', async () => {
    await seedSession();
    expect(await store.touchSession('t', 'ses_1', now + 100, now + 600)).toBe(true);
    expect(await store.touchSession('t', 'ses_1', now + 1000, now + 1000)).toBe(false);
    expect(await store.revokeSession('t', 'ses_1', 'logout', now + 200)).toBe(true);
    expect(await store.touchSession('t', 'ses_1', now + 300, now + 800)).toBe(false);
    expect(await store.revokeSession('t', 'ses_1', 'logout', now + 300)).toBe(false);
  });

  test('When a refresh token is retired at once from two instances, then exactly one retirement wins and its successor is recorded', async () => {
    const b = await secondInstance();
    await seedSession();
    await store.insertRefreshToken({ id: 'rtk_1', tenantId: 't', sessionId: 'ses_1', tokenHash: 'th', createdAt: now, retiredAt: null, replacedBy: null, graceGrant: null, graceExpiresAt: null });
    const retire = (on: AuthStore, by: string) => on.retireRefreshToken('t', 'rtk_1', { retiredAt: now, replacedBy: by, graceGrant: 'g', graceExpiresAt: now + 10 });
    const results = await Promise.all(['a', 'b', 'c', 'd', 'e', 'f'].map((by, i) => retire(i % 2 ? b : store, by)));
    expect(results.filter(Boolean)).toHaveLength(1);
    const winner = ['a', 'b', 'c', 'd', 'e', 'f'][results.indexOf(true)];
    expect((await store.findRefreshToken('t', 'rtk_1'))?.replacedBy).toBe(winner);
  });

  test('When a rotation transaction on one instance races another on the same session, then one commits and the loser rolls back whole', async () => {
    const b = await secondInstance();
    await seedSession();
    await store.insertRefreshToken({ id: 'rtk_1', tenantId: 't', sessionId: 'ses_1', tokenHash: 'th', createdAt: now, retiredAt: null, replacedBy: null, graceGrant: null, graceExpiresAt: null });
    const rotate = (on: AuthStore, successor: string) =>
      on.transaction(async (tx) => {
        if (!(await tx.touchSession('t', 'ses_1', now + 1, now + 400))) throw new Error('ended');
        await tx.insertRefreshToken({ id: successor, tenantId: 't', sessionId: 'ses_1', tokenHash: successor, createdAt: now, retiredAt: null, replacedBy: null, graceGrant: null, graceExpiresAt: null });
        if (!(await tx.retireRefreshToken('t', 'rtk_1', { retiredAt: now + 1, replacedBy: successor, graceGrant: 'g', graceExpiresAt: now + 10 }))) throw new Error('lost');
        return successor;
      });
    const outcomes = await Promise.allSettled([rotate(store, 'rtk_a'), rotate(b, 'rtk_b'), rotate(store, 'rtk_c'), rotate(b, 'rtk_d')]);
    const won = outcomes.filter((o) => o.status === 'fulfilled');
    expect(won).toHaveLength(1);
    expect(outcomes.filter((o) => o.status === 'rejected').map((o) => (o as PromiseRejectedResult).reason.message)).toEqual(['lost', 'lost', 'lost']);
    // Only the winner's successor exists.
    expect((await store.countRows()).refreshTokens).toBe(2);
    expect((await store.findRefreshToken('t', 'rtk_1'))?.replacedBy).toBe((won[0] as PromiseFulfilledResult<string>).value);
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

  test('When active sessions are listed a page at a time, then the pages are newest first and meet without gap or repeat', async () => {
    await seedSession('ses_0');
    for (let i = 1; i <= 4; i++) {
      await store.insertSession({
        id: `ses_${i}`, tenantId: 't', userId: 'usr_1', providerId: 'p', createdAt: now + (i % 3), lastRefreshedAt: now, expiresAt: now + 1000, idleExpiresAt: now + 500, revokedAt: null, revokedReason: null,
      });
    }
    const first = await store.listActiveSessions('t', 'usr_1', now, { limit: 3 });
    const last = first.at(-1)!;
    const second = await store.listActiveSessions('t', 'usr_1', now, { limit: 3, after: { createdAt: last.createdAt, id: last.id } });
    expect([...first, ...second].map((s) => s.id)).toEqual(['ses_2', 'ses_4', 'ses_1', 'ses_3', 'ses_0']);
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

  test('When an idempotency key is claimed at once from two instances, then one claims, the same request waits, a different one is refused, and an abandoned claim is taken over', async () => {
    const b = await secondInstance();
    const scope = { tenantId: 't', operation: 'op', subject: 'ses_1', key: 'k' };
    const timing = { retentionMs: 1000, lockMs: 100 };
    const claims = await Promise.all(Array.from({ length: 6 }, (_, i) => (i % 2 ? b : store).transaction((tx) => tx.claimIdempotencyKey(scope, 'fp', now, timing))));
    expect(claims.filter((c) => c.kind === 'claimed')).toHaveLength(1);
    expect(claims.filter((c) => c.kind === 'in_flight')).toHaveLength(5);
    expect((await b.claimIdempotencyKey(scope, 'other', now, timing)).kind).toBe('mismatch');
    expect((await b.claimIdempotencyKey(scope, 'fp', now + 100, timing)).kind).toBe('claimed');
    await store.completeIdempotencyKey(scope, 201, 'sealed');
    expect(await b.claimIdempotencyKey(scope, 'fp', now + 200, timing)).toMatchObject({ kind: 'completed', record: { responseStatus: 201, response: 'sealed' } });
    expect((await store.claimIdempotencyKey({ ...scope, subject: 'ses_2' }, 'other', now, timing)).kind).toBe('claimed');
    expect(await store.findIdempotencyRecord(scope, now + 200)).toMatchObject({ status: 'completed', tenantId: 't' });
    expect(await store.findIdempotencyRecord({ ...scope, key: 'unknown' }, now + 200)).toBeUndefined();
    // Expired: the key is new again.
    expect((await store.claimIdempotencyKey(scope, 'other', now + 1000, timing)).kind).toBe('claimed');
  });

  test('When an abandoned claim is taken over from two instances at once, then only one taker wins and holds its own lock', async () => {
    const b = await secondInstance();
    const scope = { tenantId: 't', operation: 'op', subject: 's', key: 'k' };
    const timing = { retentionMs: 10_000, lockMs: 100 };
    expect((await store.claimIdempotencyKey(scope, 'fp', now, timing)).kind).toBe('claimed');
    const takers = await Promise.all(Array.from({ length: 6 }, (_, i) => (i % 2 ? b : store).transaction((tx) => tx.claimIdempotencyKey(scope, 'fp', now + 100, timing))));
    expect(takers.filter((c) => c.kind === 'claimed')).toHaveLength(1);
    expect(takers.filter((c) => c.kind === 'in_flight')).toEqual(Array.from({ length: 5 }, () => ({ kind: 'in_flight', lockedUntil: now + 200 })));
    expect((await store.claimIdempotencyKey(scope, 'fp', now + 199, timing)).kind).toBe('in_flight');
    expect((await store.claimIdempotencyKey(scope, 'fp', now + 200, timing)).kind).toBe('claimed');
  });

  test('When claims race releases from two instances, then each claim is decided (claimed or in flight) and none fails', async () => {
    const b = await secondInstance();
    const timing = { retentionMs: 10_000, lockMs: 1000 };
    for (let round = 0; round < 100; round++) {
      const scope = { tenantId: 't', operation: 'op', subject: 's', key: `k${round}` };
      expect((await store.claimIdempotencyKey(scope, 'fp', now, timing)).kind).toBe('claimed');
      // The holder gives the key up while another instance's claim runs into it.
      const [, claim] = await Promise.all([store.releaseIdempotencyKey(scope), b.transaction((tx) => tx.claimIdempotencyKey(scope, 'fp', now, timing))]);
      expect(['claimed', 'in_flight']).toContain(claim.kind);
    }
  });

  test('When a released claim is claimed again, then it is claimed; a completed one is not released', async () => {
    const scope = { tenantId: 't', operation: 'op', subject: 's', key: 'k' };
    const timing = { retentionMs: 10_000, lockMs: 1000 };
    await store.claimIdempotencyKey(scope, 'fp', now, timing);
    await store.releaseIdempotencyKey(scope);
    expect((await store.claimIdempotencyKey(scope, 'fp', now, timing)).kind).toBe('claimed');
    await store.completeIdempotencyKey(scope, 200, 'sealed');
    await store.releaseIdempotencyKey(scope);
    expect((await store.claimIdempotencyKey(scope, 'fp', now, timing)).kind).toBe('completed');
  });

  test('When expired rows are pruned, then live ones stay', async () => {
    await store.insertLoginState(loginState(now + 10));
    await store.claimIdempotencyKey({ tenantId: 't', operation: 'op', subject: 's', key: 'k' }, 'fp', now, { retentionMs: 10, lockMs: 5 });
    expect(await store.prune(now + 9)).toMatchObject({ loginStates: 0, idempotencyRecords: 0 });
    expect(await store.prune(now + 10)).toMatchObject({ loginStates: 1, idempotencyRecords: 1 });
  });

  test('When a back-channel logout names a provider session or a user, then only those live sessions end, with their ID tokens, and nothing of another tenant or provider', async () => {
    const user = (id: string, tenantId: string, subject: string) =>
      store.upsertUser({ id, tenantId, issuer: 'https://idp', subject, email: null, emailVerified: false, name: null, picture: null, createdAt: now, updatedAt: now });
    const session = async (id: string, tenantId: string, userId: string, providerId: string, providerSid: string | null) => {
      await store.insertSession({ id, tenantId, userId, providerId, createdAt: now, lastRefreshedAt: now, expiresAt: now + 1000, idleExpiresAt: now + 500, revokedAt: null, revokedReason: null, providerSid });
      await store.insertSessionIdToken({ sessionId: id, tenantId, idToken: `sealed-${id}` });
    };
    await user('usr_a', 't', 'alice');
    await user('usr_b', 't', 'bob');
    await user('usr_o', 'other', 'alice');
    await session('ses_a1', 't', 'usr_a', 'p', 'sid-1');
    await session('ses_a2', 't', 'usr_a', 'p', 'sid-2');
    await session('ses_a3', 't', 'usr_a', 'q', 'sid-1');
    await session('ses_b1', 't', 'usr_b', 'p', 'sid-3');
    await session('ses_o1', 'other', 'usr_o', 'p', 'sid-1');

    expect(await store.revokeProviderSessions('t', 'p', { issuer: 'https://idp', sid: 'sid-1' }, 'provider_logout', now)).toEqual([{ id: 'ses_a1', userId: 'usr_a' }]);
    expect(await store.findSession('t', 'ses_a1')).toMatchObject({ revokedAt: now, revokedReason: 'provider_logout', providerSid: 'sid-1' });
    expect(await store.findSessionIdToken('t', 'ses_a1')).toBeUndefined();
    // A session id with another user's subject names nothing.
    expect(await store.revokeProviderSessions('t', 'p', { issuer: 'https://idp', sid: 'sid-3', subject: 'alice' }, 'provider_logout', now)).toEqual([]);
    // The user alone: every live session of theirs from this provider, and no other's.
    const bySubject = await store.revokeProviderSessions('t', 'p', { issuer: 'https://idp', subject: 'alice' }, 'provider_logout', now + 1);
    expect(bySubject).toEqual([{ id: 'ses_a2', userId: 'usr_a' }]);
    expect(await store.revokeProviderSessions('t', 'p', { issuer: 'https://other-idp', subject: 'bob' }, 'provider_logout', now)).toEqual([]);
    expect(await store.revokeProviderSessions('t', 'p', { issuer: 'https://idp' }, 'provider_logout', now)).toEqual([]);
    for (const [tenantId, id] of [['t', 'ses_a3'], ['t', 'ses_b1'], ['other', 'ses_o1']] as const) {
      expect(await store.findSession(tenantId, id)).toMatchObject({ revokedAt: null });
      expect(await store.findSessionIdToken(tenantId, id)).toBe(`sealed-${id}`);
    }
    // Another tenant's token is not found.
    expect(await store.findSessionIdToken('other', 'ses_b1')).toBeUndefined();
  });

  test('When a logout token names a provider session and its user, then that session ends, and so do the user’s sessions that kept no provider session id, but not their others', async () => {
    await store.upsertUser({ id: 'usr_a', tenantId: 't', issuer: 'https://idp', subject: 'alice', email: null, emailVerified: false, name: null, picture: null, createdAt: now, updatedAt: now });
    for (const [id, providerSid] of [['ses_named', 'sid-1'], ['ses_unnamed', null], ['ses_other', 'sid-2']] as const) {
      await store.insertSession({ id, tenantId: 't', userId: 'usr_a', providerId: 'p', createdAt: now, lastRefreshedAt: now, expiresAt: now + 1000, idleExpiresAt: now + 500, revokedAt: null, revokedReason: null, providerSid });
    }
    const revoked = await store.revokeProviderSessions('t', 'p', { issuer: 'https://idp', sid: 'sid-1', subject: 'alice' }, 'provider_logout', now);
    expect(revoked.map((session) => session.id).sort()).toEqual(['ses_named', 'ses_unnamed']);
    expect(await store.findSession('t', 'ses_other')).toMatchObject({ revokedAt: null });
  });

  test('When a session is revoked, or has expired and the store is pruned, then its ID token is gone', async () => {
    await seedSession('ses_1');
    await seedSession('ses_2');
    await store.insertSessionIdToken({ sessionId: 'ses_1', tenantId: 't', idToken: 'sealed-1' });
    await store.insertSessionIdToken({ sessionId: 'ses_2', tenantId: 't', idToken: 'sealed-2' });
    expect(await store.revokeSession('t', 'ses_1', 'logout', now)).toBe(true);
    expect(await store.findSessionIdToken('t', 'ses_1')).toBeUndefined();
    expect(await store.prune(now + 499)).toMatchObject({ idTokens: 0 });
    expect(await store.findSessionIdToken('t', 'ses_2')).toBe('sealed-2');
    expect(await store.prune(now + 500)).toMatchObject({ idTokens: 1 });
    expect(await store.findSessionIdToken('t', 'ses_2')).toBeUndefined();
  });

  test('When one logout token id is recorded at once from two instances, then exactly one records it; past its expiry it may be recorded again, and pruning sweeps it', async () => {
    const b = await secondInstance();
    const row = { tenantId: 't', providerId: 'p', jti: 'jti-1', expiresAt: now + 100 };
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 ? b : store).recordLogoutTokenJti(row, now)));
    expect(results.filter(Boolean)).toHaveLength(1);
    // Per tenant and provider: the same id from elsewhere is its own.
    expect(await store.recordLogoutTokenJti({ ...row, providerId: 'q' }, now)).toBe(true);
    expect(await store.recordLogoutTokenJti({ ...row, tenantId: 'u' }, now)).toBe(true);
    expect(await store.recordLogoutTokenJti(row, now + 99)).toBe(false);
    expect(await store.recordLogoutTokenJti({ ...row, expiresAt: now + 300 }, now + 100)).toBe(true);
    expect(await store.prune(now + 299)).toMatchObject({ logoutTokenJtis: 2 });
    expect(await store.prune(now + 300)).toMatchObject({ logoutTokenJtis: 1 });
  });

  test("When two instances count events into one audit row at once, then the row is written once and holds every count; another id is a row of its own", async () => {
    const b = await secondInstance();
    const event = { id: 'aud_repeated', tenantId: 't', type: 'api_key_refused', at: now, requestId: 'r1', clientRequestId: null, sessionId: null, userId: null, clientAddress: '203.0.113.7' };
    await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? b : store).countAuditEvent({ ...event, count: i + 1 })));
    await store.countAuditEvent({ ...event, id: 'aud_other', count: 1 });
    const rows = await store.listAuditEvents('t', { limit: 10 });
    expect(rows.map((row) => [row.id, row.count])).toEqual([
      ['aud_repeated', 210],
      ['aud_other', 1],
    ]);
    // The first writer's request and client stay the row's.
    expect(rows[0]).toMatchObject({ requestId: 'r1', clientAddress: '203.0.113.7', at: now });
  });

  test('When the storage is probed again and again, then each probe writes and gives its room back without error', async () => {
    await store.probeWrite();
    await store.probeWrite();
    expect((await store.countRows()).sessions).toBe(0);
  });

  test('When the store is reopened, then migrations do not run twice and data is kept', async () => {
    await seedSession();
    await store.close();
    store = await under.open();
    expect((await store.countRows()).sessions).toBe(1);
  });

  test('When the database is closed, then ping fails', async () => {
    const b = await under.open();
    await b.ping();
    await b.close();
    await expect(b.ping()).rejects.toThrow();
  });
});

describe(`the ${under.dialect} schema`, () => {
  test('When the database ran a migration this release does not know, then the store refuses to open and says so', async () => {
    // A later release's migration, recorded as applied.
    await under.exec(`insert into kysely_migration (name, timestamp) values ('9999_from_the_future', '2031-01-01T00:00:00.000Z')`);
    await expect(under.open()).rejects.toThrow('The database schema is newer than this release: it ran 9999_from_the_future');
  });

  test('When the server may not migrate and a migration is pending, then it refuses to start and names `pnpm migrate`', async () => {
    await under.fresh();
    await expect(under.open({ migrate: false })).rejects.toThrow(/lacks 0001_initial.*pnpm migrate/);
  });
});

describe(`keys in the ${under.dialect} store`, () => {
  const clock = { current: now, now: () => clock.current };
  const options = { publishOverlapMs: 60_000, refreshMs: 60_000 };

  test('When several instances start at once on an empty database, then they all sign and seal with the same keys', async () => {
    const b = await secondInstance();
    const rings = await Promise.all([KeyRing.open(store, clock, options), KeyRing.open(b, clock, options), KeyRing.open(store, clock, options)]);
    await Promise.all(rings.map((ring) => ring.reload()));
    expect(new Set(rings.map((ring) => ring.signingKey().kid)).size).toBe(1);
    const sealed = rings[0]!.sealing.seal('grant', 'row');
    expect(await rings[1]!.sealing.open(sealed, 'row')).toBe('grant');
    expect((await store.listServerKeys()).map((key) => [key.kind, key.generation])).toEqual([['sealing', 1], ['signing', 1]]);
  });

  test('When keys rotate, then the new key is published at once, signs from its activation, and the old one stays published until its last token expired', async () => {
    const ring = await KeyRing.open(store, clock, options);
    const first = ring.signingKey().kid;
    const sealedBefore = ring.sealing.seal('old', 'row');
    const [signing] = await rotateKeys(store, clock, { kinds: ['signing', 'sealing'], activateInMs: 1000 });
    await ring.reload();
    expect(ring.publishedKeys().map((key) => key.kid)).toEqual([first, signing!.id]);
    expect(ring.signingKey().kid).toBe(first);
    clock.current += 1000;
    expect(ring.signingKey().kid).toBe(signing!.id);
    expect(await ring.sealing.open(sealedBefore, 'row')).toBe('old');
    expect(ring.sealing.seal('new', 'row')).not.toContain(sealedBefore.split('.')[1]);
    clock.current += 59_999;
    expect(ring.publishedKeys()).toHaveLength(2);
    expect(await ring.verificationKey(first)).toBeDefined();
    clock.current += 1;
    expect(ring.publishedKeys().map((key) => key.kid)).toEqual([signing!.id]);
    expect(await ring.verificationKey(first)).toBeUndefined();
    clock.current = now;
  });

  test('When another instance rotated, then a token id not seen yet makes this one read the keys again', async () => {
    const b = await secondInstance();
    const ring = await KeyRing.open(store, clock, options);
    const [rotated] = await rotateKeys(b, clock, { kinds: ['signing'], activateInMs: 0 });
    clock.current += 1_000;
    expect(await ring.verificationKey(rotated!.id)).toBeDefined();
    expect(ring.signingKey().kid).toBe(rotated!.id);
    clock.current = now;
  });

  test('When another instance seals under a key this one has not read yet, then this one reads the keys again and opens it', async () => {
    const b = await secondInstance();
    const here = await KeyRing.open(store, clock, options);
    await rotateKeys(b, clock, { kinds: ['sealing'], activateInMs: 0 });
    clock.current += 1_000;
    const there = await KeyRing.open(b, clock, options);
    const sealed = there.sealing.seal('grant', 'row');
    expect(await here.sealing.open(sealed, 'row')).toBe('grant');
    clock.current = now;
  });

  test('When a signing key is retired, then its material is erased, no instance publishes or trusts it from its next read, and its generation is never given again', async () => {
    const b = await secondInstance();
    const ring = await KeyRing.open(store, clock, options);
    const there = await KeyRing.open(b, clock, options);
    const old = ring.signingKey();
    const [successor] = await rotateKeys(store, clock, { kinds: ['signing'], activateInMs: 0 });
    await Promise.all([ring.reload(), there.reload()]);
    expect(await store.retireSigningKey(old.kid, now)).toBe(true);
    const row = (await store.listServerKeys()).find((key) => key.id === old.kid)!;
    expect(row).toMatchObject({ kind: 'signing', generation: 1, retiredAt: now, material: 'retired:' });
    // Until its next read of the keys, an instance knows nothing of it; then the key is gone, in the JWKS and for verification.
    expect(there.publishedKeys().map((key) => key.kid)).toEqual([old.kid, successor!.id]);
    await there.reload();
    expect(there.publishedKeys().map((key) => key.kid)).toEqual([successor!.id]);
    expect(await there.verificationKey(old.kid)).toBeUndefined();
    expect(there.signingKey().kid).toBe(successor!.id);
    // Once retired is retired: the same again changes nothing.
    expect(await b.retireSigningKey(old.kid, now + 1)).toBe(false);
    expect((await store.listServerKeys()).find((key) => key.id === old.kid)!.retiredAt).toBe(now);
    expect((await rotateKeys(store, clock, { kinds: ['signing'], activateInMs: 60_000 }))[0]!.generation).toBe(3);
  });

  test('When the key that signs now, a sealing key or an unknown id is to be retired, then the store refuses and changes nothing', async () => {
    const ring = await KeyRing.open(store, clock, options);
    const sealing = (await store.listServerKeys()).find((key) => key.kind === 'sealing')!;
    // A newer key that is not active yet does not sign instead.
    await rotateKeys(store, clock, { kinds: ['signing'], activateInMs: 1000 });
    expect(await store.retireSigningKey(ring.signingKey().kid, now)).toBe(false);
    expect(await store.retireSigningKey(sealing.id, now)).toBe(false);
    expect(await store.retireSigningKey('ed25519-unknown', now)).toBe(false);
    expect((await store.listServerKeys()).every((key) => key.retiredAt === null && !key.material.startsWith('retired:'))).toBe(true);
  });

  test('When two instances, a second apart, retire at once a key about to activate and the key it replaces, then one of them is refused and a key remains to sign', async () => {
    const b = await secondInstance();
    const ring = await KeyRing.open(store, clock, options);
    const first = ring.signingKey().kid;
    const [next] = await rotateKeys(store, clock, { kinds: ['signing'], activateInMs: 1000 });
    // Before `next` activates, it may go, `first` signing; once it has, `first` may go, `next` signing. Not both.
    const retired = await Promise.all([store.retireSigningKey(next!.id, now), b.retireSigningKey(first, now + 1000)]);
    expect(retired.filter(Boolean)).toHaveLength(1);
    expect((await store.listServerKeys()).filter((key) => key.kind === 'signing' && key.retiredAt === null)).toHaveLength(1);
  });

  test('When the keys could not be read for three refresh intervals, then the ring says it is stale', async () => {
    const ring = await KeyRing.open(store, clock, options);
    clock.current += 3 * options.refreshMs;
    expect(ring.isStale()).toBe(false);
    clock.current += 1;
    expect(ring.isStale()).toBe(true);
    await ring.reload();
    expect(ring.isStale()).toBe(false);
    clock.current = now;
  });

  test('When a secret is set, then the stored keys are sealed under it, and opening them without it or with another is refused', async () => {
    const secret = 'a-long-random-secret-of-at-least-32-characters';
    const ring = await KeyRing.open(store, clock, { ...options, encryptionSecret: secret });
    const rows = await store.listServerKeys();
    expect(rows.every((row) => row.material.startsWith('sealed:'))).toBe(true);
    const jwk = ring.signingKey().privateKey.export({ format: 'jwk' });
    expect(rows.some((row) => row.material.includes(String(jwk.d)))).toBe(false);
    await expect(KeyRing.open(store, clock, options)).rejects.toThrow('set AUTH_KEY_ENCRYPTION_SECRET');
    await expect(KeyRing.open(store, clock, { ...options, encryptionSecret: `${secret}!` })).rejects.toThrow('stored under another secret');
    expect((await KeyRing.open(store, clock, { ...options, encryptionSecret: secret })).signingKey().kid).toBe(ring.signingKey().kid);
  });

  test('When a secret is set and a key is stored in the clear (planted, or from before the secret), then the ring refuses it until migrate seals it', async () => {
    const secret = 'a-long-random-secret-of-at-least-32-characters';
    await KeyRing.open(store, clock, options);
    await expect(KeyRing.open(store, clock, { ...options, encryptionSecret: secret })).rejects.toThrow(/stored in the clear: run `pnpm migrate`/);
    const sealed = await KeyRing.open(store, clock, { ...options, encryptionSecret: secret, sealPlainKeys: true });
    expect((await store.listServerKeys()).every((row) => row.material.startsWith('sealed:'))).toBe(true);
    expect((await KeyRing.open(store, clock, { ...options, encryptionSecret: secret })).signingKey().kid).toBe(sealed.signingKey().kid);
    await expect(KeyRing.open(store, clock, options)).rejects.toThrow('set AUTH_KEY_ENCRYPTION_SECRET');
  });

  test('When a sealed key is moved to another generation or activation without the secret, then it no longer opens', async () => {
    const secret = 'a-long-random-secret-of-at-least-32-characters';
    await KeyRing.open(store, clock, { ...options, encryptionSecret: secret });
    // What bringing a retired key back, or moving a key's activation, would look like to someone who can write rows.
    await under.exec(`update server_keys set generation = 7 where kind = 'signing'`);
    await expect(KeyRing.open(store, clock, { ...options, encryptionSecret: secret })).rejects.toThrow(/does not open server key ed25519-/);
    await under.exec(`update server_keys set generation = 1, activates_at = activates_at + 1 where kind = 'signing'`);
    await expect(KeyRing.open(store, clock, { ...options, encryptionSecret: secret })).rejects.toThrow(/does not open server key ed25519-/);
  });
});
