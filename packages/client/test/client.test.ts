import { startMock, type RunningMock } from '@aimable/auth-mock';
import { afterAll, beforeAll, describe, expect, expectTypeOf, test } from 'vitest';
import { AuthApiError, createAuthClient, isAuthApiError, type AuthClient, type AuthErrorCode, type SessionGrant } from '../src/index.js';

let mock: RunningMock;
/** The mock accepts keys starting `ak_mock_` and access tokens of a JWT's shape, as the examples' one. */
const MOCK_ACCESS_TOKEN = 'eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ1c3IifQ.c2ln';
let auth: AuthClient;

beforeAll(async () => {
  mock = await startMock({ port: 0 });
  auth = createAuthClient({ baseUrl: mock.url, tenantId: 'demo', apiKey: 'ak_mock_demo', accessToken: MOCK_ACCESS_TOKEN });
}, 60_000);

afterAll(() => mock?.close());

const redirect = 'http://localhost:5173/auth/callback';

describe('createAuthClient against the Prism mock', () => {
  test('When a SPA starts a login, then it gets the JSON variant with the authorization URL', async () => {
    const { data, response } = await auth.startOidcLogin({
      path: { provider: 'google' },
      query: { frontend_redirect_uri: redirect, code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' },
    });
    expect(response.status).toBe(200);
    expect(new URL(data.authorization_url).searchParams.get('state')).toBe(data.state);
    expect(Date.parse(data.expires_at)).not.toBeNaN();
  });

  test('When a page needs a plain link to start a login, then the URL names the tenant in its query and answers the redirect', async () => {
    const url = new URL(
      auth.startOidcLoginUrl({
        path: { provider: 'google' },
        query: { frontend_redirect_uri: redirect, code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' },
      }),
    );
    expect(url.pathname).toBe('/v1/auth/oidc/google/start');
    expect(url.searchParams.get('tenant')).toBe('demo');
    expect(url.searchParams.get('frontend_redirect_uri')).toBe(redirect);
    const navigation = await fetch(url, { redirect: 'manual' });
    expect(navigation.status).toBe(302);
  });

  test('When the callback is called without following redirects, then the 302 Location is returned', async () => {
    const { data, response } = await auth.handleOidcCallback({
      path: { provider: 'google' },
      query: { code: 'c', state: 's' },
      redirect: 'manual',
    });
    expect(data).toBeUndefined();
    expect(response.status).toBe(302);
    expect(new URL(response.headers.get('location')!).searchParams.get('code')).toBeTruthy();
  });

  test('When a session is created, then a typed grant comes back', async () => {
    const { data, response } = await auth.createSession({
      headers: { 'Idempotency-Key': 'k-1' },
      body: { code: 'c', state: 's', code_verifier: 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk' },
    });
    expectTypeOf(data).toEqualTypeOf<SessionGrant>();
    expect(response.status).toBe(201);
    expect(data.token_type).toBe('Bearer');
    expect(data.session.id).toMatch(/^ses_/);
    expect(data.user.email).toBe('ada@example.com');
  });

  test('When a session is refreshed, then a typed grant comes back', async () => {
    const { data } = await auth.refreshSession({ body: { refresh_token: 'rt_x' } });
    expect(data.expires_in).toBeGreaterThan(0);
  });

  test('When the session operations are called with a bearer token, then each answers its example', async () => {
    const current = await auth.getCurrentSession({});
    expect(current.data.user.id).toMatch(/^usr_/);
    const list = await auth.listSessions({ query: { limit: 10 } });
    expect(list.data.data.length).toBeGreaterThan(0);
    expect(list.data.next_cursor).toBeNull();
    const revoked = await auth.revokeSession({ path: { session_id: 'ses_4f3c2b1a0e9d8c7b6a5f4e3d' } });
    expect(revoked.response.status).toBe(204);
    const loggedOut = await auth.logout({});
    expect(loggedOut.response.status).toBe(204);
  });

  test('When the public operations are called, then each answers its example', async () => {
    expect((await auth.listProviders({})).data.data.map((p) => p.id)).toContain('google');
    expect((await auth.getJwks({})).data.keys[0]?.kid).toBeTruthy();
    expect((await auth.getHealth({})).data.status).toBe('ok');
    expect((await auth.getReadiness({})).data.status).toBe('ready');
  });

  test('When a required header is missing, then a typed AuthApiError with a 4xx problem is thrown', async () => {
    const noTenant = createAuthClient({ baseUrl: mock.url });
    const error = await noTenant.listProviders({}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthApiError);
    const apiError = error as AuthApiError;
    expectTypeOf(apiError.code).toEqualTypeOf<AuthErrorCode>();
    expect(apiError.status).toBe(400);
    expect(apiError.code).toBe('invalid_request');
    expect(apiError.problem?.request_id).toBeTruthy();
    expect(isAuthApiError(error, 'invalid_request')).toBe(true);
  });

  test('When the API key is missing, then refresh throws invalid_api_key', async () => {
    const noKey = createAuthClient({ baseUrl: mock.url, tenantId: 'demo' });
    const error = await noKey.refreshSession({ body: { refresh_token: 'rt_x' } }).catch((e: unknown) => e);
    expect(isAuthApiError(error, 'invalid_api_key')).toBe(true);
    expect((error as AuthApiError).status).toBe(401);
  });

  test('When the bearer token is missing, then session operations throw 401', async () => {
    const anonymous = createAuthClient({ baseUrl: mock.url, tenantId: 'demo' });
    const error = await anonymous.getCurrentSession({}).catch((e: unknown) => e);
    expect(isAuthApiError(error, 'invalid_access_token')).toBe(true);
  });

  test('When a call omits a required input, then it does not compile', () => {
    // @ts-expect-error Idempotency-Key is required for createSession
    void (() => auth.createSession({ body: { code: 'c', state: 's' } }));
    // @ts-expect-error frontend_redirect_uri is required
    void (() => auth.startOidcLogin({ path: { provider: 'google' }, query: {} }));
  });
});
