import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { apiClient, failure, ManualClock, problemCode, refresh, signIn, startHarness, type Harness } from './support/harness.js';

const clock = new ManualClock();
let h: Harness;

beforeAll(async () => {
  h = await startHarness({ clock });
});
afterAll(() => h?.close());

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

  test('When sessions are listed three at a time, then each page’s cursor continues after its last session', async () => {
    const made = [];
    for (let i = 0; i < 4; i += 1) {
      made.push(await signIn(h, { username: 'grace' }));
      clock.advance(1000);
    }
    const latest = made.at(-1)!;
    const first = (await (await fetch(`${h.url}/v1/auth/sessions?limit=3`, { headers: { Authorization: `Bearer ${latest.access_token}` } })).json()) as { data: { id: string }[]; next_cursor: string };
    expect(first.data.map((s) => s.id)).toEqual(made.slice(-3).map((s) => s.session.id).reverse());
    const next = (await (await fetch(`${h.url}/v1/auth/sessions?limit=3&cursor=${first.next_cursor}`, { headers: { Authorization: `Bearer ${latest.access_token}` } })).json()) as { data: { id: string }[] };
    expect(next.data[0]!.id).toBe(made.at(-4)!.session.id);
  });

  test('When a session and its list are read, then the answers are not cacheable', async () => {
    const grant = await signIn(h);
    const auth = { Authorization: `Bearer ${grant.access_token}` };
    expect((await fetch(`${h.url}/v1/auth/session`, { headers: auth })).headers.get('cache-control')).toBe('no-store');
    expect((await fetch(`${h.url}/v1/auth/sessions`, { headers: auth })).headers.get('cache-control')).toBe('no-store');
  });

  test('When a user logs out, then the session is recorded as ended by logout', async () => {
    const grant = await signIn(h);
    await fetch(`${h.url}/v1/auth/logout`, { method: 'POST', headers: { Authorization: `Bearer ${grant.access_token}` } });
    expect((await h.server.store.findSession('alpha', grant.session.id))?.revokedReason).toBe('logout');
  });
});
