import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { apiClient, failure, grantOf, loginThroughProvider, ManualClock, postSession, problemCode, refresh, refreshCookieOf, signIn, startHarness, type Harness } from './support/harness.js';
import { tenantsWith } from './support/tenants.js';

const clock = new ManualClock();
let h: Harness;

beforeAll(async () => {
  h = await startHarness({ clock });
});
afterAll(() => h?.close());

describe('refresh token rotation', () => {
  test('When a refresh token is used, then a new one is issued and the old one is retired', async () => {
    const created = await signIn(h);
    const first = await grantOf(await refresh(h, created.refresh_token));
    expect(first.refresh_token).not.toBe(created.refresh_token);
    expect(first.session.id).toBe(created.session.id);
    const second = await grantOf(await refresh(h, first.refresh_token));
    expect(second.refresh_token).not.toBe(first.refresh_token);
  });

  test('When two tabs refresh with the same token at once, then both get the identical grant, and its token works', async () => {
    const created = await signIn(h);
    const [a, b] = await Promise.all([refresh(h, created.refresh_token), refresh(h, created.refresh_token)]);
    expect(a.status).toBe(200);
    expect(b.status).toBe(200);
    const [bodyA, bodyB] = [await a.text(), await b.text()];
    expect(bodyA).toBe(bodyB);
    const next = await refresh(h, (JSON.parse(bodyA) as { refresh_token: string }).refresh_token);
    expect(next.status).toBe(200);
  });

  test('When a retired token is presented again within the grace window, then the identical grant comes back', async () => {
    const created = await signIn(h);
    const first = await refresh(h, created.refresh_token);
    const firstBody = await first.text();
    clock.advance(9_000);
    const again = await refresh(h, created.refresh_token);
    expect(again.status).toBe(200);
    expect(await again.text()).toBe(firstBody);
  });

  test('When a retired token is presented after the grace window, then the whole session is revoked', async () => {
    const created = await signIn(h);
    const current = await grantOf(await refresh(h, created.refresh_token));
    clock.advance(10_001);
    const reused = await refresh(h, created.refresh_token);
    expect(reused.status).toBe(401);
    expect(await problemCode(reused)).toBe('refresh_token_reused');
    // The thief's use revokes the legitimate holder's token too: the session is over.
    const legit = await refresh(h, current.refresh_token);
    expect(legit.status).toBe(401);
    expect(await problemCode(legit)).toBe('refresh_token_reused');
    expect(await failure(apiClient(h, { accessToken: current.access_token }).getCurrentSession({}))).toMatchObject({ status: 401, code: 'invalid_access_token' });
  });

  test('When a grandparent token is presented, even within the window, then it is reuse: only the immediate parent is forgiven', async () => {
    const created = await signIn(h);
    const child = await grantOf(await refresh(h, created.refresh_token));
    await grantOf(await refresh(h, child.refresh_token));
    const reused = await refresh(h, created.refresh_token);
    expect(await problemCode(reused)).toBe('refresh_token_reused');
  });

  test('When the refresh token is unknown or missing, then 401 invalid_refresh_token', async () => {
    expect(await problemCode(await refresh(h, 'rt_not-a-real-token'))).toBe('invalid_refresh_token');
    const none = await fetch(`${h.url}/v1/refresh`, { method: 'POST', headers: { 'X-API-Key': 'ak_test_alpha_4c1f9e' } });
    expect(none.status).toBe(401);
    expect(await problemCode(none)).toBe('invalid_refresh_token');
  });

  test('When the API key is wrong, then 401 invalid_api_key', async () => {
    const created = await signIn(h);
    const response = await refresh(h, created.refresh_token, { apiKey: 'ak_wrong' });
    expect(response.status).toBe(401);
    expect(await problemCode(response)).toBe('invalid_api_key');
  });

  test('When the API key is unknown, then the 401 says so', async () => {
    const response = await fetch(`${h.url}/v1/refresh`, { method: 'POST', headers: { 'X-API-Key': 'ak_unknown' } });
    expect(await response.json()).toMatchObject({ code: 'invalid_api_key', detail: 'X-API-Key is not valid.' });
  });
});

describe('the grace window answers only on the channel of the original', () => {
  test('When a cookie token is replayed within the window in a JSON body, then it is a reuse: 401, no token, the session is revoked', async () => {
    const login = await loginThroughProvider(h);
    const created = await postSession(h, { code: login.code, state: login.state, code_verifier: login.verifier });
    const cookieToken = refreshCookieOf(created);
    const rotated = await refresh(h, cookieToken, { viaCookie: true });
    expect(rotated.status).toBe(200);
    const inBody = await refresh(h, cookieToken);
    expect(inBody.status).toBe(401);
    const text = await inBody.text();
    expect(JSON.parse(text).code).toBe('refresh_token_reused');
    expect(text).not.toContain('rt_');
    expect(await problemCode(await refresh(h, refreshCookieOf(rotated), { viaCookie: true }))).toBe('refresh_token_reused');
    expect(h.logs.join('')).toContain('"event":"refresh_token_reused"');
  });

  test('When a body token is replayed within the window in the cookie, then it is a reuse too', async () => {
    const grant = await signIn(h);
    expect((await refresh(h, grant.refresh_token)).status).toBe(200);
    const viaCookie = await refresh(h, grant.refresh_token, { viaCookie: true });
    expect(await problemCode(viaCookie)).toBe('refresh_token_reused');
    expect(viaCookie.headers.get('set-cookie')).toBeNull();
  });

  test('When it is replayed on its own channel within the window, then the identical grant comes back, and the hit is logged with the session id', async () => {
    const grant = await signIn(h);
    const first = await refresh(h, grant.refresh_token);
    const again = await refresh(h, grant.refresh_token);
    expect(await again.text()).toBe(await first.text());
    const hit = h.logs.find((line) => line.includes('"event":"refresh_grace_replay"') && line.includes(grant.session.id));
    expect(hit).toBeDefined();
    expect(hit).not.toContain(grant.refresh_token);
  });

  test('When a tenant sets a shorter window, then its own window applies', async () => {
    const short = await startHarness({ clock, tenants: tenantsWith({ alpha: { session_policy: { refresh_reuse_grace_seconds: 2 } } }) });
    try {
      const grant = await signIn(short);
      expect((await refresh(short, grant.refresh_token)).status).toBe(200);
      clock.advance(2_500);
      expect(await problemCode(await refresh(short, grant.refresh_token))).toBe('refresh_token_reused');
    } finally {
      await short.close();
    }
  });
});

describe('the grace window at its edge, and what a reuse says', () => {
  test('When exactly the window has passed, then the old token is a reuse, and the answers say so', async () => {
    const grant = await signIn(h);
    expect((await refresh(h, grant.refresh_token)).status).toBe(200);
    clock.advance(10_000);
    const reused = await refresh(h, grant.refresh_token);
    expect(await reused.json()).toMatchObject({ code: 'refresh_token_reused', detail: 'A retired refresh token was presented; the session has been revoked.' });
    const after = await refresh(h, grant.refresh_token);
    expect(await after.json()).toMatchObject({ code: 'refresh_token_reused', detail: 'The session was revoked after a refresh token was reused.' });
  });
});

describe('refresh with Idempotency-Key', () => {
  test('When the same key and token are retried within the grace window, then the identical grant is replayed', async () => {
    const created = await signIn(h);
    const first = await refresh(h, created.refresh_token, { key: 'retry-1' });
    const firstBody = await first.text();
    clock.advance(5_000);
    const again = await refresh(h, created.refresh_token, { key: 'retry-1' });
    expect(again.status).toBe(200);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(await again.text()).toBe(firstBody);
  });

  test('When the same key and token are replayed after the grace window, then it is a reuse: 401 and the session is revoked', async () => {
    const created = await signIn(h);
    const current = await grantOf(await refresh(h, created.refresh_token, { key: 'late-1' }));
    clock.advance(60_000);
    const replay = await refresh(h, created.refresh_token, { key: 'late-1' });
    expect(replay.status).toBe(401);
    expect(await problemCode(replay)).toBe('refresh_token_reused');
    expect(await problemCode(await refresh(h, current.refresh_token))).toBe('refresh_token_reused');
  });

  test('When the same key and token are replayed after logout, then 401: a replay never outlives the session', async () => {
    const created = await signIn(h);
    const current = await grantOf(await refresh(h, created.refresh_token, { key: 'logout-1' }));
    await apiClient(h, { accessToken: current.access_token }).logout({});
    const replay = await refresh(h, created.refresh_token, { key: 'logout-1' });
    expect(replay.status).toBe(401);
  });

  test('When the same key comes with the session’s next token, then 422 idempotency_key_reused', async () => {
    const a = await signIn(h);
    const first = await grantOf(await refresh(h, a.refresh_token, { key: 'shared-1' }));
    const other = await refresh(h, first.refresh_token, { key: 'shared-1' });
    expect(other.status).toBe(422);
    expect(await problemCode(other)).toBe('idempotency_key_reused');
  });

  test('When another user’s session happens to use the same key, then neither is refused: keys are scoped to the session', async () => {
    const ada = await signIn(h, { username: 'ada' });
    const alan = await signIn(h, { username: 'alan' });
    expect((await refresh(h, ada.refresh_token, { key: 'predictable-key' })).status).toBe(200);
    const other = await refresh(h, alan.refresh_token, { key: 'predictable-key' });
    expect(other.status).toBe(200);
    expect(other.headers.get('idempotent-replayed')).toBeNull();
  });

  test('When 20 refreshes with one key and token race, then one rotation happens and every answer is the same grant or a 409', async () => {
    const created = await signIn(h);
    const before = (await h.server.store.countRows()).refreshTokens;
    const responses = await Promise.all(Array.from({ length: 20 }, () => refresh(h, created.refresh_token, { key: 'race-refresh' })));
    const ok = responses.filter((r) => r.status === 200);
    expect(responses.every((r) => r.status === 200 || r.status === 409)).toBe(true);
    expect(new Set(await Promise.all(ok.map((r) => r.text()))).size).toBe(1);
    expect((await h.server.store.countRows()).refreshTokens - before).toBe(1);
  });

  test('When grants are stored for replay and grace, then no refresh or access token is readable in the database', async () => {
    const created = await signIn(h);
    const next = await grantOf(await refresh(h, created.refresh_token, { key: 'at-rest-1' }));
    const { readFileSync, existsSync } = await import('node:fs');
    const file = h.config.databaseFile;
    const bytes = readFileSync(file).toString('latin1') + (existsSync(`${file}-wal`) ? readFileSync(`${file}-wal`).toString('latin1') : '');
    for (const secret of [created.refresh_token, next.refresh_token, next.access_token]) expect(bytes).not.toContain(secret);
    const rows = (await h.server.store.countRows()).idempotencyRecords;
    expect(rows).toBeGreaterThan(0);
  });

  test('When 24 hours have passed, then the key is forgotten: the record is pruned and the same key runs anew', async () => {
    const created = await signIn(h);
    const first = await grantOf(await refresh(h, created.refresh_token, { key: 'day-old' }));
    clock.advance(24 * 3600 * 1000 + 1000);
    const pruned = await h.server.store.prune(clock.now());
    expect(pruned.idempotencyRecords).toBeGreaterThan(0);
    expect(pruned.graceGrants).toBeGreaterThan(0);
    // The same key now starts a new request: with the current token, a new rotation.
    const again = await refresh(h, first.refresh_token, { key: 'day-old' });
    expect(again.status).toBe(200);
    expect(again.headers.get('idempotent-replayed')).toBeNull();
  });
});
