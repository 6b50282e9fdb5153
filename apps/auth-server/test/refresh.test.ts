import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ManualClock, problemCode, refresh, signIn, startHarness, type Harness, apiClient, failure } from './support/harness.js';

const DAY = 24 * 3600 * 1000;
const clock = new ManualClock();
let h: Harness;

beforeAll(async () => {
  h = await startHarness({ clock });
});
afterAll(() => h?.close());

async function grantOf(response: Response): Promise<{ refresh_token: string; access_token: string; session: { id: string; idle_expires_at: string } }> {
  expect(response.status).toBe(200);
  return (await response.json()) as never;
}

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
});

describe('session lifetimes, with an injected clock', () => {
  test('When a session is idle for longer than 7 days, then refresh answers 401 session_expired', async () => {
    const created = await signIn(h);
    clock.advance(7 * DAY + 1000);
    const response = await refresh(h, created.refresh_token);
    expect(response.status).toBe(401);
    expect(await problemCode(response)).toBe('session_expired');
  });

  test('When a session is refreshed within the idle timeout, then it lives until its absolute lifetime of 30 days and no longer', async () => {
    const created = await signIn(h);
    let token = created.refresh_token;
    for (let day = 6; day < 30; day += 6) {
      clock.advance(6 * DAY);
      const grant = await grantOf(await refresh(h, token));
      token = grant.refresh_token;
      expect(Date.parse(grant.session.idle_expires_at)).toBeLessThanOrEqual(clock.now() + 7 * DAY);
    }
    clock.advance(6 * DAY + 1000);
    const response = await refresh(h, token);
    expect(response.status).toBe(401);
    expect(await problemCode(response)).toBe('session_expired');
  });

  test('When the access token is older than 15 minutes, then it is refused', async () => {
    const created = await signIn(h);
    const api = apiClient(h, { accessToken: created.access_token });
    expect((await api.getCurrentSession({})).data.session.id).toBe(created.session.id);
    clock.advance(15 * 60 * 1000 + 1000);
    expect(await failure(api.getCurrentSession({}))).toMatchObject({ status: 401, code: 'invalid_access_token' });
  });
});

describe('session management', () => {
  test('When a user lists sessions, then pages follow the cursor, newest first, and the current one is marked', async () => {
    const sessions = [];
    for (let i = 0; i < 5; i += 1) {
      sessions.push(await signIn(h, { username: 'grace' }));
      clock.advance(1000);
    }
    const latest = sessions.at(-1)!;
    const seen: string[] = [];
    let cursor: string | null = null;
    const api = apiClient(h, { accessToken: latest.access_token });
    do {
      const { data: page } = await api.listSessions({ query: { limit: 2, ...(cursor ? { cursor } : {}) } });
      expect(page.data.length).toBeLessThanOrEqual(2);
      seen.push(...page.data.map((s) => s.id));
      for (const s of page.data) expect(s.current).toBe(s.id === latest.session.id);
      cursor = page.next_cursor;
    } while (cursor);
    expect(seen).toEqual(sessions.map((s) => s.session.id).reverse());
  });

  test('When a bad cursor is sent, then 400 invalid_request', async () => {
    const created = await signIn(h);
    const refused = await failure(apiClient(h, { accessToken: created.access_token }).listSessions({ query: { cursor: 'garbage' } }));
    expect(refused).toMatchObject({ status: 400, code: 'invalid_request' });
  });

  test('When a user revokes another of their sessions, then its refresh token stops working at once', async () => {
    const laptop = await signIn(h, { username: 'alan' });
    const phone = await signIn(h, { username: 'alan' });
    const { response: revoked } = await apiClient(h, { accessToken: phone.access_token }).revokeSession({ path: { session_id: laptop.session.id } });
    expect(revoked.status).toBe(204);
    expect(await problemCode(await refresh(h, laptop.refresh_token))).toBe('invalid_refresh_token');
    expect((await refresh(h, phone.refresh_token)).status).toBe(200);
  });

  test('When a user tries to revoke a session of another user, then 404 and it stays alive', async () => {
    const ada = await signIn(h, { username: 'ada' });
    const alan = await signIn(h, { username: 'alan' });
    const refused = await failure(apiClient(h, { accessToken: ada.access_token }).revokeSession({ path: { session_id: alan.session.id } }));
    expect(refused).toMatchObject({ status: 404, code: 'not_found' });
    expect((await refresh(h, alan.refresh_token)).status).toBe(200);
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
