import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { apiClient, failure, grantOf, loginThroughProvider, ManualClock, postSession, problemCode, refresh, signIn, startHarness, type Harness } from './support/harness.js';
import { tenantsWith } from './support/tenants.js';

const DAY = 24 * 3600 * 1000;
const clock = new ManualClock();
let h: Harness;

beforeAll(async () => {
  h = await startHarness({ clock });
});
afterAll(() => h?.close());

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

  test('When a session is idle one second short of 7 days, then it refreshes; one second past, it has expired, before its absolute lifetime', async () => {
    const grant = await signIn(h);
    clock.advance(7 * DAY - 1000);
    const within = await refresh(h, grant.refresh_token);
    expect(within.status).toBe(200);
    const next = ((await within.json()) as { refresh_token: string }).refresh_token;
    clock.advance(7 * DAY + 1000);
    const idle = await refresh(h, next);
    expect(idle.status).toBe(401);
    expect(await problemCode(idle)).toBe('session_expired');
  });

  test('When a session reaches its absolute end, then its access token stops working at that very millisecond', async () => {
    const short = await startHarness({ clock, tenants: tenantsWith({ alpha: { session_policy: { absolute_lifetime_seconds: 60, idle_timeout_seconds: 60, access_token_ttl_seconds: 900 } } }) });
    try {
      const grant = await signIn(short);
      const call = () => fetch(`${short.url}/v1/auth/session`, { headers: { Authorization: `Bearer ${grant.access_token}` } });
      clock.advance(60_000 - 1);
      expect((await call()).status).toBe(200);
      clock.advance(1);
      const ended = await call();
      expect(ended.status).toBe(401);
      expect(await ended.json()).toMatchObject({ detail: 'The access token is missing, invalid or expired, or its session has ended.' });
    } finally {
      await short.close();
    }
  });
});

describe('sessions at the edges of their lifetimes, with an idle timeout shorter than the absolute one', () => {
  let idle: Harness;
  beforeAll(async () => {
    idle = await startHarness({ clock, tenants: tenantsWith({ alpha: { session_policy: { absolute_lifetime_seconds: 3600, idle_timeout_seconds: 60, access_token_ttl_seconds: 900 } } }) });
  });
  afterAll(() => idle?.close());

  test('When exactly the idle timeout has passed, then the access token, a refresh and a creation replay all end', async () => {
    const login = await loginThroughProvider(idle);
    const body = { code: login.code, state: login.state, code_verifier: login.verifier, refresh_token_delivery: 'body' };
    const created = await postSession(idle, body, { key: 'edge' });
    const grant = (await created.json()) as { access_token: string; refresh_token: string };
    clock.advance(60_000 - 1);
    expect((await fetch(`${idle.url}/v1/auth/session`, { headers: { Authorization: `Bearer ${grant.access_token}` } })).status).toBe(200);
    expect((await postSession(idle, body, { key: 'edge' })).status).toBe(201);
    clock.advance(1);
    expect((await fetch(`${idle.url}/v1/auth/session`, { headers: { Authorization: `Bearer ${grant.access_token}` } })).status).toBe(401);
    const replay = await postSession(idle, body, { key: 'edge' });
    expect(await replay.json()).toMatchObject({ code: 'invalid_state', detail: 'This login was already redeemed, and its session has since been refreshed or has ended.' });
    const refreshed = await refresh(idle, grant.refresh_token);
    expect(await refreshed.json()).toMatchObject({ code: 'session_expired', detail: 'The session has expired. Sign in again.' });
  });
});
