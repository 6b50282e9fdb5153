import { randomUUID } from 'node:crypto';
import { CookieJar, signOutAt } from '@aimable/dev-idp';
import type { JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { FakeProvider } from './support/fake-provider.js';
import { loginThroughFake, postSession, problemCode, refresh, signIn, startHarness, type Harness } from './support/harness.js';
import { CLIENT_SECRET } from './support/tenants.js';

const BACKCHANNEL_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

function postLogoutToken(h: Harness, logoutToken: string, query = 'tenant=alpha', provider = 'dev'): Promise<Response> {
  return fetch(`${h.url}/v1/auth/oidc/${provider}/backchannel-logout?${query}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ logout_token: logoutToken }),
  });
}

describe('back-channel logout from the real dev-idp', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h?.close());

  test('When the user signs out at dev-idp, then it posts a logout token and the session here ends: its refresh fails, and the end is audited', async () => {
    const browser = new CookieJar();
    const ada = await signIn(h, { cookies: browser });
    const alan = await signIn(h, { username: 'alan' });
    // Read once, so that the SQLite store keeps it in its session cache: the revocation must reach past that.
    expect((await fetch(`${h.url}/v1/auth/session`, { headers: { Authorization: `Bearer ${ada.access_token}` } })).status).toBe(200);
    // The user signs out at the provider itself, not through this server.
    const landed = await signOutAt(`${h.idp!.issuer}/session/end`, { cookies: browser });
    expect(landed.pathname).toBe('/session/end/success');
    expect(await problemCode(await refresh(h, ada.refresh_token))).toBe('invalid_refresh_token');
    // Its access token, checked against the session on every request, is refused too.
    expect((await fetch(`${h.url}/v1/auth/session`, { headers: { Authorization: `Bearer ${ada.access_token}` } })).status).toBe(401);
    expect((await h.server.store.findSession('alpha', ada.session.id))?.revokedReason).toBe('provider_logout');
    // Another user's session, in another browser, is not touched.
    expect((await refresh(h, alan.refresh_token)).status).toBe(200);
    const events = await h.server.store.listAuditEvents('alpha', { limit: 20 });
    expect(events.find((event) => event.type === 'provider_logout')).toMatchObject({ sessionId: ada.session.id, userId: ada.user.id });
  });
});

describe('back-channel logout tokens, from a provider whose keys the test holds', () => {
  let fake: FakeProvider;
  let h: Harness;
  beforeAll(async () => {
    fake = await FakeProvider.start();
    h = await startHarness({ issuer: fake.issuer });
  });
  afterAll(async () => {
    await h?.close();
    await fake?.close();
  });

  /** A session whose ID token carried this provider session id. */
  async function sessionWithSid(sid: string): Promise<{ refresh_token: string; session: { id: string } }> {
    fake.sid = sid;
    const login = await loginThroughFake(h, fake);
    const response = await postSession(h, { code: login.code, state: login.state, code_verifier: login.verifier, refresh_token_delivery: 'body' });
    expect(response.status).toBe(201);
    return (await response.json()) as never;
  }

  function claims(overrides: JWTPayload = {}): JWTPayload {
    const now = Math.floor(Date.now() / 1000);
    return { iss: fake.issuer, aud: 'aimable-test', iat: now, exp: now + 120, jti: randomUUID(), sub: 'hostile-user-1', events: { [BACKCHANNEL_EVENT]: {} }, ...overrides };
  }

  const without = (payload: JWTPayload, ...names: string[]) => Object.fromEntries(Object.entries(payload).filter(([name]) => !names.includes(name)));

  test('When a valid logout token names a provider session, then only that session ends, and the answer is 200, not cached', async () => {
    const ended = await sessionWithSid('sid-a');
    const other = await sessionWithSid('sid-b');
    const response = await postLogoutToken(h, await fake.signToken(claims({ sid: 'sid-a' })));
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(await problemCode(await refresh(h, ended.refresh_token))).toBe('invalid_refresh_token');
    expect((await refresh(h, other.refresh_token)).status).toBe(200);
  });

  test('When a valid logout token names only the user, then every session of that user from this provider ends', async () => {
    const first = await sessionWithSid('sid-c');
    const second = await sessionWithSid('sid-d');
    const response = await postLogoutToken(h, await fake.signToken(without(claims(), 'sid')));
    expect(response.status).toBe(200);
    expect(await problemCode(await refresh(h, first.refresh_token))).toBe('invalid_refresh_token');
    expect(await problemCode(await refresh(h, second.refresh_token))).toBe('invalid_refresh_token');
  });

  test('When a logout token names a session and another user, then nothing ends', async () => {
    const session = await sessionWithSid('sid-e');
    const response = await postLogoutToken(h, await fake.signToken(claims({ sid: 'sid-e', sub: 'someone-else' })));
    expect(response.status).toBe(200);
    expect((await refresh(h, session.refresh_token)).status).toBe(200);
  });

  test('When a logout token is replayed, then 400 invalid_logout_token and nothing more ends', async () => {
    await sessionWithSid('sid-f');
    const token = await fake.signToken(claims({ sid: 'sid-f' }));
    expect((await postLogoutToken(h, token)).status).toBe(200);
    // The provider session id comes back in a new session: the replayed token must not end it.
    const later = await sessionWithSid('sid-f');
    const replayed = await postLogoutToken(h, token);
    expect(replayed.status).toBe(400);
    expect(await problemCode(replayed)).toBe('invalid_logout_token');
    expect((await refresh(h, later.refresh_token)).status).toBe(200);
  });

  const forged: [string, () => Promise<string>][] = [
    ['not a JWT', async () => 'not-a-jwt'],
    ['signed by another key', async () => fake.signToken(claims({ sid: 'sid-x' }), { rogue: true })],
    ['unsigned (alg none)', async () => fake.signToken(claims({ sid: 'sid-x' }), { unsigned: true })],
    ['MACed with the client secret (HS256)', async () => fake.signToken(claims({ sid: 'sid-x' }), { hmacSecret: CLIENT_SECRET })],
    ['for another audience', async () => fake.signToken(claims({ sid: 'sid-x', aud: 'another-client' }))],
    ['from another issuer', async () => fake.signToken(claims({ sid: 'sid-x', iss: 'https://evil.example' }))],
    ['with a nonce (an ID token passed off as a logout token)', async () => fake.signToken(claims({ sid: 'sid-x', nonce: 'n' }))],
    ['without events', async () => fake.signToken(without(claims({ sid: 'sid-x' }), 'events'))],
    ['with another event', async () => fake.signToken(claims({ sid: 'sid-x', events: { 'http://schemas.openid.net/event/other': {} } }))],
    ['with an event that is not an object', async () => fake.signToken(claims({ sid: 'sid-x', events: { [BACKCHANNEL_EVENT]: 'yes' } }))],
    ['without sid and sub', async () => fake.signToken(without(claims(), 'sub'))],
    ['without jti', async () => fake.signToken(without(claims({ sid: 'sid-x' }), 'jti'))],
    ['without iat', async () => fake.signToken(without(claims({ sid: 'sid-x' }), 'iat'))],
    ['expired', async () => fake.signToken(claims({ sid: 'sid-x', exp: Math.floor(Date.now() / 1000) - 300 }))],
    ['issued 20 minutes ago', async () => fake.signToken(without(claims({ sid: 'sid-x', iat: Math.floor(Date.now() / 1000) - 1200 }), 'exp'))],
    ['issued in the future', async () => fake.signToken(claims({ sid: 'sid-x', iat: Math.floor(Date.now() / 1000) + 600 }))],
  ];

  test.each(forged)('When the logout token is %s, then 400 invalid_logout_token, nothing ends, and the token is not logged', async (_name, make) => {
    const session = await sessionWithSid('sid-x');
    const token = await make();
    const response = await postLogoutToken(h, token);
    expect(response.status).toBe(400);
    expect(await problemCode(response)).toBe('invalid_logout_token');
    expect((await refresh(h, session.refresh_token)).status).toBe(200);
    expect(h.logs.join('\n')).not.toContain(token);
  });

  test('When logout tokens name key ids the provider never had, then its key set is fetched again at most once', async () => {
    await postLogoutToken(h, await fake.signToken(claims({ sid: 'sid-warm' })));
    const before = fake.jwksRequests;
    for (let i = 0; i < 5; i += 1) {
      const response = await postLogoutToken(h, await fake.signToken(claims({ sid: 'sid-y' }), { kid: `made-up-${i}`, rogue: true }));
      expect(await problemCode(response)).toBe('invalid_logout_token');
    }
    expect(fake.jwksRequests - before).toBeLessThanOrEqual(1);
  });

  test('When the tenant or provider is unknown, or the token missing, then the refusal says which, and nothing ends', async () => {
    const session = await sessionWithSid('sid-z');
    const token = await fake.signToken(claims({ sid: 'sid-z' }));
    expect(await problemCode(await postLogoutToken(h, token, 'tenant=nobody'))).toBe('unknown_tenant');
    expect(await problemCode(await postLogoutToken(h, token, ''))).toBe('invalid_request');
    const unknownProvider = await postLogoutToken(h, token, 'tenant=alpha', 'nowhere');
    expect(unknownProvider.status).toBe(404);
    const empty = await fetch(`${h.url}/v1/auth/oidc/dev/backchannel-logout?tenant=alpha`, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: '' });
    expect(await problemCode(empty)).toBe('invalid_request');
    // Beta has the same provider, but the token is alpha's session's: beta has no such session, and alpha's lives.
    expect((await postLogoutToken(h, token, 'tenant=beta')).status).toBe(200);
    expect((await refresh(h, session.refresh_token)).status).toBe(200);
  });
});
