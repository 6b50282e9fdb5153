import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { FakeProvider } from './support/fake-provider.js';
import { loginThroughProvider, ManualClock, pkcePair, postSession, problemCode, refresh, refreshCookie, refreshCookieOf, signIn, startHarness, type Harness } from './support/harness.js';
import { ALPHA_ORIGIN, API_KEY, BETA_ORIGIN, OTHER_API_KEY, pkceOptional, tenantsWith } from './support/tenants.js';

const clock = new ManualClock();
let h: Harness;
beforeAll(async () => {
  h = await startHarness({ clock });
});
afterAll(() => h?.close());

describe('hole 1: a session-creation replay never hands out a grant that has moved on', () => {
  async function created(key: string) {
    const login = await loginThroughProvider(h);
    const body = { code: login.code, state: login.state, code_verifier: login.verifier, refresh_token_delivery: 'body' };
    const first = await postSession(h, body, { key });
    expect(first.status).toBe(201);
    return { body, grant: (await first.json()) as { access_token: string; refresh_token: string } };
  }

  test('When the same request is retried while the session is fresh, then the same grant is replayed', async () => {
    const { body, grant } = await created('fresh-replay');
    const replay = await postSession(h, body, { key: 'fresh-replay' });
    expect(replay.status).toBe(201);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(((await replay.json()) as { refresh_token: string }).refresh_token).toBe(grant.refresh_token);
  });

  test('When it is retried after logout, then 401 and no token', async () => {
    const { body, grant } = await created('after-logout');
    expect((await fetch(`${h.url}/v1/auth/logout`, { method: 'POST', headers: { Authorization: `Bearer ${grant.access_token}` } })).status).toBe(204);
    const replay = await postSession(h, body, { key: 'after-logout' });
    expect(replay.status).toBe(401);
    const text = await replay.text();
    expect(JSON.parse(text).code).toBe('invalid_state');
    expect(text).not.toContain('rt_');
    expect(replay.headers.get('set-cookie')).toBeNull();
  });

  test('When it is retried after the first refresh, then 401: the replay would hand out a retired token', async () => {
    const { body, grant } = await created('after-refresh');
    expect((await refresh(h, grant.refresh_token)).status).toBe(200);
    clock.advance(11_000);
    const replay = await postSession(h, body, { key: 'after-refresh' });
    expect(replay.status).toBe(401);
    expect(await replay.text()).not.toContain('rt_');
  });

  test('When the key and the code and state are replayed with another verifier, then no grant, and nothing is stored', async () => {
    const { body } = await created('stolen-key');
    const before = await h.server.store.countRows();
    const replay = await postSession(h, { ...body, code_verifier: pkcePair().verifier }, { key: 'stolen-key' });
    expect(replay.status).toBe(401);
    expect(await replay.text()).not.toContain('rt_');
    expect(await h.server.store.countRows()).toEqual(before);
  });

  test('When it is retried after the state has expired but before any refresh, then it is still replayed', async () => {
    const { body, grant } = await created('late-retry');
    clock.advance(11 * 60 * 1000);
    await h.server.store.prune(clock.now());
    const replay = await postSession(h, body, { key: 'late-retry' });
    expect(replay.status).toBe(201);
    expect(((await replay.json()) as { refresh_token: string }).refresh_token).toBe(grant.refresh_token);
  });

  test('When two logins use the same predictable key, then neither is refused: creation keys are scoped to the verifier', async () => {
    for (let i = 0; i < 2; i += 1) {
      const login = await loginThroughProvider(h);
      const response = await postSession(h, { code: login.code, state: login.state, code_verifier: login.verifier }, { key: 'login-1' });
      expect(response.status).toBe(201);
      expect(response.headers.get('idempotent-replayed')).toBeNull();
    }
  });
});

describe('logins without a verifier (a tenant with frontend_pkce: optional)', () => {
  test('When a login without a verifier is retried with its key, then its grant is not replayed: the state alone may have leaked', async () => {
    const optional = await startHarness({ tenants: pkceOptional });
    try {
      const { startUrl } = await import('./support/harness.js');
      const { signInAt } = await import('@aimable/dev-idp');
      const started = await fetch(startUrl(optional, { challenge: null }).url, { headers: { 'X-Tenant-Id': 'alpha' }, redirect: 'manual' });
      const back = new URL((await fetch(await signInAt(started.headers.get('location')!, { username: 'ada', password: 'password' }), { redirect: 'manual' })).headers.get('location')!);
      const body = { code: back.searchParams.get('code'), state: back.searchParams.get('state') };
      expect((await postSession(optional, body, { key: 'login-1' })).status).toBe(201);
      const replay = await postSession(optional, body, { key: 'login-1' });
      expect(replay.status).toBe(401);
      expect(await problemCode(replay)).toBe('invalid_state');
      expect(replay.headers.get('set-cookie')).toBeNull();
    } finally {
      await optional.close();
    }
  });
});

describe('hole 2: an origin that a tenant does not allow cannot act for it', () => {
  test('When beta’s page posts a refresh with alpha’s key and cookie, then 403 origin_not_allowed, nothing is rotated, no cookie is set', async () => {
    const grant = await signIn(h);
    const response = await fetch(`${h.url}/v1/refresh`, {
      method: 'POST',
      headers: { Origin: BETA_ORIGIN, 'X-API-Key': API_KEY, Cookie: refreshCookie(grant.refresh_token) },
    });
    expect(response.status).toBe(403);
    expect(await problemCode(response)).toBe('origin_not_allowed');
    expect(response.headers.get('set-cookie')).toBeNull();
    // The token was not touched: alpha's own page rotates it now, rather than getting a grace replay.
    const own = await fetch(`${h.url}/v1/refresh`, {
      method: 'POST',
      headers: { Origin: ALPHA_ORIGIN, 'X-API-Key': API_KEY, Cookie: refreshCookie(grant.refresh_token) },
    });
    expect(own.status).toBe(200);
    expect(own.headers.get('access-control-allow-origin')).toBe(ALPHA_ORIGIN);
    clock.advance(11_000);
    expect(await problemCode(await refresh(h, grant.refresh_token))).toBe('refresh_token_reused');
  });

  test('When beta’s page posts alpha’s login result, then 403 and the state stays for alpha’s page', async () => {
    const login = await loginThroughProvider(h);
    const body = JSON.stringify({ code: login.code, state: login.state, code_verifier: login.verifier });
    const headers = { 'Content-Type': 'application/json', 'Idempotency-Key': crypto.randomUUID() };
    const before = await h.server.store.countRows();
    const foreign = await fetch(`${h.url}/v1/auth/oidc/session`, { method: 'POST', headers: { ...headers, Origin: BETA_ORIGIN }, body });
    expect(foreign.status).toBe(403);
    expect(await problemCode(foreign)).toBe('origin_not_allowed');
    expect(foreign.headers.get('set-cookie')).toBeNull();
    expect(await h.server.store.countRows()).toEqual(before);
    const own = await fetch(`${h.url}/v1/auth/oidc/session`, { method: 'POST', headers: { ...headers, Origin: ALPHA_ORIGIN, 'Idempotency-Key': crypto.randomUUID() }, body });
    expect(own.status).toBe(201);
  });

  test('When beta’s page sends logout or revoke with alpha’s token, then 403 and the session lives on', async () => {
    const grant = await signIn(h);
    const auth = { Authorization: `Bearer ${grant.access_token}` };
    const logout = await fetch(`${h.url}/v1/auth/logout`, { method: 'POST', headers: { ...auth, Origin: BETA_ORIGIN } });
    expect(logout.status).toBe(403);
    expect(logout.headers.get('set-cookie')).toBeNull();
    const revoke = await fetch(`${h.url}/v1/auth/sessions/${grant.session.id}`, { method: 'DELETE', headers: { ...auth, Origin: BETA_ORIGIN } });
    expect(revoke.status).toBe(403);
    expect((await fetch(`${h.url}/v1/auth/session`, { headers: auth })).status).toBe(200);
  });

  test('When the origin is opaque (null) or unknown, then unsafe requests are refused; without Origin (not a browser), they run', async () => {
    for (const origin of ['null', 'https://evil.example']) {
      const response = await fetch(`${h.url}/v1/refresh`, { method: 'POST', headers: { Origin: origin, 'X-API-Key': API_KEY } });
      expect(response.status).toBe(403);
    }
    expect(await problemCode(await fetch(`${h.url}/v1/refresh`, { method: 'POST', headers: { 'X-API-Key': API_KEY } }))).toBe('invalid_refresh_token');
  });

  test('When answers depend on Origin, then they say Vary: Origin; a preflight is allowed for tenants’ origins only', async () => {
    const answer = await fetch(`${h.url}/v1/auth/providers`, { headers: { 'X-Tenant-Id': 'alpha', Origin: ALPHA_ORIGIN } });
    expect(answer.headers.get('vary')).toMatch(/\bOrigin\b/);
    const foreign = await fetch(`${h.url}/v1/auth/providers`, { headers: { 'X-Tenant-Id': 'alpha', Origin: BETA_ORIGIN } });
    expect(foreign.headers.get('vary')).toMatch(/\bOrigin\b/);
    expect(foreign.headers.get('access-control-allow-origin')).toBeNull();
    const preflight = (origin: string) =>
      fetch(`${h.url}/v1/refresh`, { method: 'OPTIONS', headers: { Origin: origin, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'x-api-key' } });
    expect((await preflight(BETA_ORIGIN)).headers.get('access-control-allow-origin')).toBe(BETA_ORIGIN);
    expect((await preflight('https://evil.example')).headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('hole 3: the grace window answers only on the channel of the original', () => {
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

describe('access tokens: only our own, for our audience', () => {
  async function forged(claims: { iss?: string; aud?: string }, grant: { session: { id: string }; user: { id: string } }): Promise<string> {
    const key = h.server.keys.signingKey();
    const now = Math.floor(clock.now() / 1000);
    return new SignJWT({ sid: grant.session.id, tenant: 'alpha' })
      .setProtectedHeader({ alg: 'EdDSA', kid: key.kid, typ: 'at+jwt' })
      .setIssuer(claims.iss ?? h.config.publicUrl)
      .setAudience(claims.aud ?? h.config.accessTokenAudience)
      .setSubject(grant.user.id)
      .setIssuedAt(now)
      .setExpirationTime(now + 600)
      .setJti(crypto.randomUUID())
      .sign(key.privateKey);
  }

  test('When a token signed with our key names another audience or another issuer, then 401; with ours, 200', async () => {
    const grant = await signIn(h);
    const call = async (token: string) => fetch(`${h.url}/v1/auth/session`, { headers: { Authorization: `Bearer ${token}` } });
    expect((await call(await forged({}, grant))).status).toBe(200);
    for (const claims of [{ aud: 'another-api' }, { iss: 'https://another-auth.example' }]) {
      const response = await call(await forged(claims, grant));
      expect(response.status).toBe(401);
      expect(await problemCode(response)).toBe('invalid_access_token');
      expect(response.headers.get('www-authenticate')).toMatch(/^Bearer/);
    }
  });
});

describe('lifetimes, each on its own', () => {
  test('When a session is idle one second short of 7 days, then it refreshes; one second past, it has expired, before its absolute lifetime', async () => {
    const day = 24 * 3600 * 1000;
    const grant = await signIn(h);
    clock.advance(7 * day - 1000);
    const within = await refresh(h, grant.refresh_token);
    expect(within.status).toBe(200);
    const next = ((await within.json()) as { refresh_token: string }).refresh_token;
    clock.advance(7 * day + 1000);
    const idle = await refresh(h, next);
    expect(idle.status).toBe(401);
    expect(await problemCode(idle)).toBe('session_expired');
  });
});

describe('smaller items', () => {
  test('When a session and its list are read, then the answers are not cacheable', async () => {
    const grant = await signIn(h);
    const auth = { Authorization: `Bearer ${grant.access_token}` };
    expect((await fetch(`${h.url}/v1/auth/session`, { headers: auth })).headers.get('cache-control')).toBe('no-store');
    expect((await fetch(`${h.url}/v1/auth/sessions`, { headers: auth })).headers.get('cache-control')).toBe('no-store');
  });

  test('When a tenant’s cookie is SameSite=Lax, then logout clears it with SameSite=Lax too', async () => {
    const lax = await startHarness({ tenants: tenantsWith({ alpha: { session_policy: { cookie_same_site: 'Lax' } } }) });
    try {
      const login = await loginThroughProvider(lax);
      const created = await postSession(lax, { code: login.code, state: login.state, code_verifier: login.verifier });
      expect(created.headers.get('set-cookie')).toMatch(/SameSite=Lax/);
      const grant = (await created.json()) as { access_token: string };
      const logout = await fetch(`${lax.url}/v1/auth/logout`, { method: 'POST', headers: { Authorization: `Bearer ${grant.access_token}` } });
      expect(logout.headers.get('set-cookie')).toMatch(/^__Host-aimable_refresh_alpha=; .*SameSite=Lax/);
    } finally {
      await lax.close();
    }
  });

  test('When a 5xx happens, then its body carries the generic text and the request id, never the internal message', async () => {
    const fake = await FakeProvider.start();
    const broken = await startHarness({ issuer: fake.issuer });
    try {
      const { startJson } = await import('./support/harness.js');
      const { authorizationUrl, state, verifier } = await startJson(broken);
      const code = fake.authorize(authorizationUrl);
      fake.dropTokenRequests = true;
      const response = await postSession(broken, { code, state, code_verifier: verifier });
      expect(response.status).toBe(502);
      const problem = (await response.json()) as { code: string; detail: string; request_id: string };
      expect(problem.code).toBe('provider_unavailable');
      expect(problem.detail).toBe('An unexpected error occurred. Quote the request id when reporting it.');
      expect(JSON.stringify(problem)).not.toMatch(/fetch failed|socket|ECONN|other side closed/i);
      expect(problem.request_id).toBe(response.headers.get('x-request-id'));
      expect(broken.logs.join('')).toMatch(new RegExp(`${problem.request_id}.*provider_unavailable`));
    } finally {
      await broken.close();
      await fake.close();
    }
  });
});

describe('another tenant’s credentials', () => {
  test('When beta’s key comes with alpha’s token, then nothing in the answer says that the token exists', async () => {
    const grant = await signIn(h);
    const foreign = (await (await refresh(h, grant.refresh_token, { apiKey: OTHER_API_KEY })).json()) as Record<string, unknown>;
    const unknown = (await (await refresh(h, `rt_${'x'.repeat(43)}`, { apiKey: OTHER_API_KEY })).json()) as Record<string, unknown>;
    expect({ ...foreign, request_id: undefined }).toEqual({ ...unknown, request_id: undefined });
    expect((await refresh(h, grant.refresh_token)).status).toBe(200);
  });
});

describe('CORS and the origin check, precisely', () => {
  test('When a preflight comes from a tenant’s origin, then it allows the headers the API reads, and answers expose those a client needs', async () => {
    const preflight = await fetch(`${h.url}/v1/refresh`, {
      method: 'OPTIONS',
      headers: { Origin: ALPHA_ORIGIN, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'x-api-key, idempotency-key' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-headers')).toBe('Authorization, Content-Type, Idempotency-Key, X-API-Key, X-Request-Id, X-Tenant-Id');
    expect(preflight.headers.get('access-control-allow-methods')).toBe('GET, POST, DELETE');
    expect(preflight.headers.get('access-control-allow-credentials')).toBe('true');
    expect(preflight.headers.get('access-control-max-age')).toBe('600');
    const noOrigin = await fetch(`${h.url}/v1/auth/providers`, { headers: { 'X-Tenant-Id': 'alpha' } });
    expect(noOrigin.headers.get('access-control-allow-origin')).toBeNull();
    expect(noOrigin.headers.get('access-control-allow-credentials')).toBeNull();
    const answer = await fetch(`${h.url}/v1/auth/providers`, { headers: { 'X-Tenant-Id': 'alpha', Origin: ALPHA_ORIGIN } });
    expect(answer.headers.get('access-control-expose-headers')).toBe('X-Request-Id, Idempotent-Replayed, Retry-After, WWW-Authenticate');
  });

  test('When a request is not a preflight (no Access-Control-Request-Method, or not OPTIONS), then it is not answered as one', async () => {
    const options = await fetch(`${h.url}/healthz`, { method: 'OPTIONS', headers: { Origin: ALPHA_ORIGIN } });
    expect(options.status).toBe(405);
    const post = await fetch(`${h.url}/v1/refresh`, { method: 'POST', headers: { Origin: ALPHA_ORIGIN, 'Access-Control-Request-Method': 'POST', 'X-API-Key': API_KEY } });
    expect(post.status).toBe(401);
    expect(await problemCode(post)).toBe('invalid_refresh_token');
  });

  test('When a foreign origin sends DELETE, then it is refused like POST; PUT and PATCH no route takes; when it reads, the read runs but its answer is not shared', async () => {
    const grant = await signIn(h);
    const revoke = await fetch(`${h.url}/v1/auth/sessions/${grant.session.id}`, {
      method: 'DELETE',
      headers: { Origin: 'https://evil.example', Authorization: `Bearer ${grant.access_token}` },
    });
    expect(revoke.status).toBe(403);
    expect(await revoke.json()).toMatchObject({ code: 'origin_not_allowed', detail: 'The origin https://evil.example is not allowed for this tenant.' });
    expect((await h.server.store.findSession('alpha', grant.session.id))?.revokedAt).toBeNull();
    for (const method of ['PUT', 'PATCH']) {
      const response = await fetch(`${h.url}/v1/refresh`, { method, headers: { Origin: 'https://evil.example', 'X-API-Key': API_KEY } });
      expect(response.status).toBe(405);
      expect(response.headers.get('allow')).toBe('POST');
    }
    const read = await fetch(`${h.url}/v1/auth/providers`, { headers: { 'X-Tenant-Id': 'alpha', Origin: BETA_ORIGIN } });
    expect(read.status).toBe(200);
    expect(read.headers.get('access-control-allow-origin')).toBeNull();
  });

  test('When the API key is unknown, then the 401 says so', async () => {
    const response = await fetch(`${h.url}/v1/refresh`, { method: 'POST', headers: { 'X-API-Key': 'ak_unknown' } });
    expect(await response.json()).toMatchObject({ code: 'invalid_api_key', detail: 'X-API-Key is not valid.' });
  });
});

describe('replays and lifetimes at their edges', () => {
  test('When a session-creation replay comes after the session’s idle timeout, before any refresh, then 401', async () => {
    const login = await loginThroughProvider(h);
    const body = { code: login.code, state: login.state, code_verifier: login.verifier, refresh_token_delivery: 'body' };
    expect((await postSession(h, body, { key: 'idle-replay' })).status).toBe(201);
    clock.advance(7 * 24 * 3600 * 1000 + 1000);
    const replay = await postSession(h, body, { key: 'idle-replay' });
    expect(replay.status).toBe(401);
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

  test('When a session is created, then its refresh cookie lives exactly as long as the session', async () => {
    const login = await loginThroughProvider(h);
    const created = await postSession(h, { code: login.code, state: login.state, code_verifier: login.verifier });
    expect(created.headers.get('set-cookie')).toMatch(/; Max-Age=2592000;/);
  });
});

describe('readiness', () => {
  test('When the keys could not be read again for three refresh intervals, then readiness answers 503 until they are', async () => {
    const manual = new ManualClock();
    const stale = await startHarness({ clock: manual, config: { keyRefreshSeconds: 60 } });
    try {
      manual.advance(3 * 60_000);
      expect((await fetch(`${stale.url}/readyz`)).status).toBe(200);
      manual.advance(1);
      const response = await fetch(`${stale.url}/readyz`);
      expect(response.status).toBe(503);
      expect(await problemCode(response)).toBe('service_unavailable');
      expect(stale.logs.join('\n')).toContain('keys could not be read again');
      await stale.server.keys.reload();
      expect((await fetch(`${stale.url}/readyz`)).status).toBe(200);
    } finally {
      await stale.close();
    }
  });

  test('When the database does not answer, then readiness answers 503', async () => {
    const broken = await startHarness();
    try {
      expect((await fetch(`${broken.url}/readyz`)).status).toBe(200);
      await broken.server.store.close();
      const response = await fetch(`${broken.url}/readyz`);
      expect(response.status).toBe(503);
      expect(await problemCode(response)).toBe('service_unavailable');
    } finally {
      await broken.close().catch(() => {});
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

describe('what the access token must name', () => {
  test('When a token signed with our key names a session of another user, or lacks a claim, then it is refused', async () => {
    const ada = await signIn(h, { username: 'ada' });
    const alan = await signIn(h, { username: 'alan' });
    const key = h.server.keys.signingKey();
    const now = Math.floor(clock.now() / 1000);
    const sign = (claims: Record<string, unknown>, omit: string[] = []) => {
      const jwt = new SignJWT({ sid: ada.session.id, tenant: 'alpha', ...claims }).setProtectedHeader({ alg: 'EdDSA', kid: key.kid, typ: 'at+jwt' });
      if (!omit.includes('iss')) jwt.setIssuer(h.config.publicUrl);
      jwt.setAudience(h.config.accessTokenAudience);
      if (!omit.includes('sub')) jwt.setSubject(String(claims.sub ?? ada.user.id));
      if (!omit.includes('iat')) jwt.setIssuedAt(now);
      jwt.setExpirationTime(now + 600);
      if (!omit.includes('jti')) jwt.setJti(crypto.randomUUID());
      return jwt.sign(key.privateKey);
    };
    const call = async (token: string) => (await fetch(`${h.url}/v1/auth/session`, { headers: { Authorization: `Bearer ${token}` } })).status;
    expect(await call(await sign({}))).toBe(200);
    expect(await call(await sign({ sub: alan.user.id }))).toBe(401);
    for (const claim of ['jti', 'iat']) expect(await call(await sign({}, [claim]))).toBe(401);
    expect(await call(await sign({ sid: undefined }))).toBe(401);
    expect(await call(await sign({ tenant: undefined }))).toBe(401);
  });
});

describe('what is recorded and listed', () => {
  test('When a user logs out, then the session is recorded as ended by logout', async () => {
    const grant = await signIn(h);
    await fetch(`${h.url}/v1/auth/logout`, { method: 'POST', headers: { Authorization: `Bearer ${grant.access_token}` } });
    expect((await h.server.store.findSession('alpha', grant.session.id))?.revokedReason).toBe('logout');
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
});
