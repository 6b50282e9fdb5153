import { createHash, randomBytes } from 'node:crypto';
import { AuthApiError, createAuthClient, type AuthClient } from '@aimable/auth-client';
import { startMock } from '@aimable/auth-mock';
import { signInAt } from '@aimable/dev-idp';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { API_KEY, REDIRECT_URI, startHarness } from './support/harness.js';

/**
 * One suite, run unchanged against the mock and against the server: every
 * operation through the typed client only. What may differ between the two
 * is what the contract leaves open (values, ids, which example), never a
 * status, a shape or a code.
 */

interface Target {
  baseUrl: string;
  tenantId: string;
  apiKey: string;
  provider: string;
  redirectUri: string;
  /** What the provider's page does with the authorization URL: the URL it sends the browser back to. */
  providerPage(authorizationUrl: string): Promise<string>;
  close(): Promise<void>;
}

const targets: [string, () => Promise<Target>][] = [
  [
    'the mock',
    async () => {
      const mock = await startMock({ port: 0 });
      // The mock plays the provider too: its authorization URL is already the callback.
      return { baseUrl: mock.url, tenantId: 'demo', apiKey: 'ak_any', provider: 'google', redirectUri: 'http://localhost:5173/auth/callback', providerPage: async (url) => url, close: () => mock.close() };
    },
  ],
  [
    'the server',
    async () => {
      const h = await startHarness();
      return {
        baseUrl: h.url,
        tenantId: 'alpha',
        apiKey: API_KEY,
        provider: 'dev',
        redirectUri: REDIRECT_URI,
        providerPage: async (url) => String(await signInAt(url, { username: 'ada', password: 'password' })),
        close: () => h.close(),
      };
    },
  ],
];

function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

describe.each(targets)('the contract suite against %s', (_name, start) => {
  let target: Target;
  let api: AuthClient;
  let keyed: AuthClient;

  beforeAll(async () => {
    target = await start();
    api = createAuthClient({ baseUrl: target.baseUrl, tenantId: target.tenantId });
    keyed = createAuthClient({ baseUrl: target.baseUrl, tenantId: target.tenantId, apiKey: target.apiKey });
  }, 60_000);

  afterAll(() => target?.close());

  /** Start → the provider's page → the callback → a session: every step an operation of the client. */
  async function signIn() {
    const { verifier, challenge } = pkce();
    const { data: started } = await api.startOidcLogin({
      path: { provider: target.provider },
      query: { frontend_redirect_uri: target.redirectUri, code_challenge: challenge, code_challenge_method: 'S256' },
    });
    expect(started.state).toBeTruthy();
    const providerReturn = new URL(await target.providerPage(started.authorization_url));
    const { response: callback } = await api.handleOidcCallback({
      path: { provider: target.provider },
      query: { code: providerReturn.searchParams.get('code')!, state: providerReturn.searchParams.get('state')!, ...(providerReturn.searchParams.has('iss') ? { iss: providerReturn.searchParams.get('iss')! } : {}) },
      redirect: 'manual',
    });
    expect(callback.status).toBe(302);
    const back = new URL(callback.headers.get('location')!);
    expect(`${back.origin}${back.pathname}`).toBe(target.redirectUri);
    const { data: grant, response } = await api.createSession({
      headers: { 'Idempotency-Key': crypto.randomUUID() },
      body: { code: back.searchParams.get('code')!, state: back.searchParams.get('state')!, code_verifier: verifier, refresh_token_delivery: 'body' },
    });
    expect(response.status).toBe(201);
    return grant;
  }

  test('When the probes, the key set and the reference are asked, then each answers its declared shape', async () => {
    expect((await api.getHealth({})).data.status).toBe('ok');
    expect((await api.getReadiness({})).data.status).toBe('ready');
    expect((await api.getJwks({})).data.keys.length).toBeGreaterThan(0);
    expect((await api.listProviders({})).data.data.length).toBeGreaterThan(0);
    const contract = await api.getOpenApiDocument({});
    expect(contract.response.headers.get('content-type')).toMatch(/^application\/yaml/);
    expect(await api.getApiReference({}).then((r) => r.response.headers.get('content-type'))).toMatch(/^text\/html/);
    expect(await api.getApiReferenceScript({}).then((r) => r.response.headers.get('content-type'))).toMatch(/^application\/javascript/);
  });

  test('When a user signs in, refreshes, lists and revokes sessions and logs out, then every operation answers as declared', async () => {
    const grant = await signIn();
    expect(grant.token_type).toBe('Bearer');
    expect(grant.refresh_token).toBeTruthy();
    const signedIn = createAuthClient({ baseUrl: target.baseUrl, tenantId: target.tenantId, accessToken: grant.access_token });

    const { data: current } = await signedIn.getCurrentSession({});
    expect(current.session.id).toBeTruthy();
    expect(current.user.id).toBeTruthy();

    const { data: refreshed } = await keyed.refreshSession({ body: { refresh_token: grant.refresh_token! } });
    expect(refreshed.refresh_token).toBeTruthy();
    expect(refreshed.expires_in).toBeGreaterThan(0);

    const { data: page } = await signedIn.listSessions({ query: { limit: 10 } });
    expect(page.data.length).toBeGreaterThan(0);

    const other = await signIn();
    const { response: revoked } = await signedIn.revokeSession({ path: { session_id: other.session.id } });
    expect(revoked.status).toBe(204);

    const { response: loggedOut } = await signedIn.logout({});
    expect(loggedOut.status).toBe(204);
  });

  test('When a link starts the login, then it is redirected to the provider', async () => {
    const { challenge } = pkce();
    const url = api.startOidcLoginUrl({ path: { provider: target.provider }, query: { frontend_redirect_uri: target.redirectUri, code_challenge: challenge, code_challenge_method: 'S256' } });
    const response = await fetch(url, { redirect: 'manual' });
    expect(response.status).toBe(302);
    expect(response.headers.get('location')).toMatch(/^https?:\/\//);
  });

  test('When a call breaks the contract or lacks its credential, then both answer the same problem code', async () => {
    const noTenant = createAuthClient({ baseUrl: target.baseUrl });
    const invalid = await noTenant.listProviders({}).catch((error: unknown) => error);
    expect(invalid).toBeInstanceOf(AuthApiError);
    expect(invalid).toMatchObject({ status: 400, code: 'invalid_request', operation: 'listProviders' });

    const anonymous = await api.getCurrentSession({}).catch((error: unknown) => error);
    expect(anonymous).toMatchObject({ status: 401, code: 'invalid_access_token' });
    expect((anonymous as AuthApiError).response?.headers.get('www-authenticate')).toMatch(/^Bearer/);
  });
});
