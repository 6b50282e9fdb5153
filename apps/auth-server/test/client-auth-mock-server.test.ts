import { generateKeyPairSync } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { decodeProtectedHeader, jwtVerify } from 'jose';
import { OAuth2Server } from 'oauth2-mock-server';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { postSession, startHarness, startUrl, type Harness } from './support/harness.js';
import { CLIENT_SECRET, tenantsWith } from './support/tenants.js';

/** What the mock's token endpoint was sent: how the client authenticated, and as whom. */
interface TokenRequest {
  authorization: string | undefined;
  body: Record<string, unknown>;
}

let mock: OAuth2Server;
let h: Harness;
const tokenRequests: TokenRequest[] = [];
/** What the mock's discovery lists, when a test wants another list than its own `["none"]`. */
let advertisedMethods: string[] | undefined;
/** The error the mock's token endpoint answers with instead of tokens. */
let tokenError: { error: string; error_description: string } | undefined;
const clientKey = generateKeyPairSync('rsa', { modulusLength: 2048 });

beforeAll(async () => {
  mock = new OAuth2Server();
  await mock.issuer.keys.generate('RS256');
  await mock.start(0, '127.0.0.1');
  mock.service.on('beforeResponse', (response: { body: unknown; statusCode: number }, req: IncomingMessage & { body: Record<string, unknown> }) => {
    tokenRequests.push({ authorization: req.headers.authorization, body: req.body });
    if (tokenError) Object.assign(response, { statusCode: 401, body: tokenError });
  });
  mock.service.on('beforeWellKnownOpenIdConfiguration', (document: { body: Record<string, unknown> }) => {
    if (advertisedMethods) document.body.token_endpoint_auth_methods_supported = advertisedMethods;
  });
  const provider = (clientId: string) => ({ display_name: 'Mock', issuer: mock.issuer.url!, client_id: clientId, client_secret_env: 'TEST_CLIENT_SECRET', allow_insecure_http: true });
  h = await startHarness({
    issuer: mock.issuer.url!,
    tenants: tenantsWith({
      alpha: {
        providers: {
          dev: provider('aimable-client'),
          dotted: provider('app.aimable-web.v2'),
          jwt: { ...provider('aimable-jwt.client'), client_secret_env: undefined, token_endpoint_auth_method: 'private_key_jwt', private_key_env: 'CLIENT_KEY', key_id: 'rp-1' },
          jwt_endpoint: { ...provider('aimable-jwt.client'), token_endpoint_auth_method: 'private_key_jwt', private_key_env: 'CLIENT_KEY', client_assertion_audience: 'token_endpoint' },
        },
      },
    }),
    env: { CLIENT_KEY: clientKey.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string },
    // Discovery is fetched again for each test that changes what the mock lists.
    config: { providerDiscoveryTtlSeconds: 0 },
  });
});
afterAll(async () => {
  await h?.close();
  await mock?.stop();
});
afterEach(() => {
  tokenRequests.length = 0;
  advertisedMethods = undefined;
  tokenError = undefined;
});

/** Start → the mock's authorize endpoint (it approves at once) → callback → POST /v1/auth/oidc/session. */
async function signInAtMock(provider: string): Promise<Response> {
  const { url, verifier } = startUrl(h, { provider });
  const started = await fetch(url, { headers: { 'X-Tenant-Id': 'alpha' }, redirect: 'manual' });
  expect(started.status).toBe(302);
  const authorized = await fetch(started.headers.get('location')!, { redirect: 'manual' });
  expect(authorized.status).toBe(302);
  const callback = await fetch(authorized.headers.get('location')!, { redirect: 'manual' });
  expect(callback.status).toBe(302);
  const back = new URL(callback.headers.get('location')!);
  return postSession(h, { code: back.searchParams.get('code'), state: back.searchParams.get('state'), code_verifier: verifier, refresh_token_delivery: 'body' });
}

describe('token endpoint authentication against oauth2-mock-server', () => {
  test.each(['dev', 'dotted'])(
    "When the provider lists only 'none' and the client id holds '-' and '.' (%s), then the sign-in completes and the exchange sends the id unencoded and no credentials",
    async (provider) => {
      const created = await signInAtMock(provider);
      expect(created.status).toBe(201);
      const clientId = provider === 'dev' ? 'aimable-client' : 'app.aimable-web.v2';
      expect(tokenRequests).toEqual([{ authorization: undefined, body: expect.objectContaining({ client_id: clientId, grant_type: 'authorization_code' }) }]);
      expect(tokenRequests[0]!.body.client_secret).toBeUndefined();
    },
  );

  test('When the provider lists only client_secret_post, then the secret goes in the body, never in an Authorization header, and stays out of the logs', async () => {
    advertisedMethods = ['client_secret_post'];
    const created = await signInAtMock('dev');
    expect(created.status).toBe(201);
    expect(tokenRequests).toEqual([{ authorization: undefined, body: expect.objectContaining({ client_id: 'aimable-client', client_secret: CLIENT_SECRET }) }]);
    expect(h.logs.join('')).not.toContain(CLIENT_SECRET);
  });

  test('When the provider lists only client_secret_basic, then the credentials are form-encoded (RFC 6749 §2.3.1) and a provider that does not decode them refuses the login, with the method and its error in the log', async () => {
    advertisedMethods = ['client_secret_basic'];
    const logsBefore = h.logs.length;
    const refused = await signInAtMock('dev');
    expect(refused.status).toBe(401);
    const authorization = tokenRequests[0]!.authorization!;
    expect(Buffer.from(authorization.replace(/^Basic /, ''), 'base64').toString()).toBe(`aimable%2Dclient:${encodeURIComponent(CLIENT_SECRET).replaceAll('-', '%2D')}`);
    const failure = h.logs.slice(logsBefore).join('');
    expect(failure).toContain('client_secret_basic');
    expect(failure).not.toContain(CLIENT_SECRET);
  });

  test('When private_key_jwt is configured, then each exchange sends a fresh RFC 7523 assertion: signed RS256 with the kid, iss = sub = client id, aud = the issuer, short-lived', async () => {
    advertisedMethods = ['private_key_jwt', 'client_secret_basic'];
    expect((await signInAtMock('jwt')).status).toBe(201);
    expect((await signInAtMock('jwt')).status).toBe(201);
    const assertions = tokenRequests.map(({ authorization, body }) => {
      expect(authorization).toBeUndefined();
      expect(body).toMatchObject({ client_id: 'aimable-jwt.client', client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer' });
      expect(body.client_secret).toBeUndefined();
      return body.client_assertion as string;
    });
    const claims = [];
    for (const assertion of assertions) {
      expect(decodeProtectedHeader(assertion)).toMatchObject({ alg: 'RS256', kid: 'rp-1' });
      const { payload } = await jwtVerify(assertion, clientKey.publicKey, { issuer: 'aimable-jwt.client', subject: 'aimable-jwt.client', audience: mock.issuer.url! });
      expect(payload.aud).toBe(mock.issuer.url);
      expect(payload.exp! - payload.iat!).toBeLessThanOrEqual(120);
      claims.push(payload);
    }
    expect(claims[0]!.jti).toBeTruthy();
    expect(claims[0]!.jti).not.toBe(claims[1]!.jti);
    expect(h.logs.join('')).not.toContain(assertions[0]!.split('.')[2]);
  });

  test('When the provider wants its token endpoint as the audience, then that is the aud', async () => {
    advertisedMethods = ['private_key_jwt'];
    expect((await signInAtMock('jwt_endpoint')).status).toBe(201);
    const assertion = tokenRequests[0]!.body.client_assertion as string;
    const { payload } = await jwtVerify(assertion, clientKey.publicKey, { issuer: 'aimable-jwt.client', subject: 'aimable-jwt.client' });
    expect(payload.aud).toBe(`${mock.issuer.url}/token`);
  });

  test('When the provider refuses the client, then 401 invalid_grant; the log names the method and the provider error, never the assertion or the secret', async () => {
    tokenError = { error: 'invalid_client', error_description: 'client assertion signature did not verify' };
    advertisedMethods = ['private_key_jwt'];
    const logsBefore = h.logs.length;
    expect((await signInAtMock('jwt')).status).toBe(401);
    advertisedMethods = ['client_secret_post'];
    expect((await signInAtMock('dev')).status).toBe(401);

    const failures = h.logs.slice(logsBefore).filter((line) => line.includes('request refused'));
    expect(failures).toHaveLength(2);
    expect(failures[0]).toContain('the code exchange, authenticated with private_key_jwt, failed: the provider answered invalid_client (client assertion signature did not verify)');
    expect(failures[1]).toContain('the code exchange, authenticated with client_secret_post, failed: the provider answered invalid_client');
    const logText = h.logs.slice(logsBefore).join('');
    const assertion = tokenRequests[0]!.body.client_assertion as string;
    for (const part of assertion.split('.')) expect(logText).not.toContain(part);
    expect(logText).not.toContain(CLIENT_SECRET);
  });
});
