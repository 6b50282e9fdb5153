import { createHash, randomBytes } from 'node:crypto';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { signInAt, startDevIdp, TEST_USERS, type DevIdpClient, type RunningDevIdp } from '../src/index.js';

const client: DevIdpClient & { client_secret: string } = {
  client_id: 'test-rp',
  client_secret: 'test-secret',
  redirect_uris: ['http://localhost:9999/callback'],
};

interface Discovery {
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
  jwks_uri: string;
  authorization_response_iss_parameter_supported?: boolean;
  response_types_supported: string[];
  code_challenge_methods_supported: string[];
  token_endpoint_auth_methods_supported: string[];
  scopes_supported: string[];
}

interface TokenResponse {
  id_token: string;
  access_token: string;
  token_type: string;
}

let idp: RunningDevIdp;
let discovery: Discovery;
const logLines: string[] = [];

beforeAll(async () => {
  idp = await startDevIdp({ port: 0, clients: [client], log: (line) => logLines.push(line) });
  discovery = (await (await fetch(`${idp.issuer}/.well-known/openid-configuration`)).json()) as Discovery;
});

afterAll(() => idp?.close());

/** An authorization request as a relying party builds it, with a fresh PKCE pair. */
function authorizationRequest(overrides: Record<string, string> = {}) {
  const verifier = randomBytes(32).toString('base64url');
  const params = new URLSearchParams({
    response_type: 'code',
    client_id: client.client_id,
    redirect_uri: client.redirect_uris[0]!,
    scope: 'openid email profile',
    state: randomBytes(16).toString('base64url'),
    nonce: randomBytes(16).toString('base64url'),
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
    ...overrides,
  });
  return { url: `${discovery.authorization_endpoint}?${params}`, params, verifier };
}

async function exchangeCode(code: string, verifier: string, auth: 'basic' | 'post'): Promise<Response> {
  const form = new URLSearchParams({
    grant_type: 'authorization_code',
    code,
    redirect_uri: client.redirect_uris[0]!,
    code_verifier: verifier,
  });
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  if (auth === 'basic') {
    // RFC 6749 §2.3.1: both parts are form-urlencoded before base64.
    const credentials = `${encodeURIComponent(client.client_id)}:${encodeURIComponent(client.client_secret)}`;
    headers['authorization'] = `Basic ${Buffer.from(credentials).toString('base64')}`;
  } else {
    form.set('client_id', client.client_id);
    form.set('client_secret', client.client_secret);
  }
  return fetch(discovery.token_endpoint, { method: 'POST', headers, body: form });
}

describe('discovery', () => {
  test('When the discovery document is fetched, then it advertises RFC 9207 iss, code flow only and S256 PKCE', () => {
    expect(discovery.issuer).toBe(idp.issuer);
    expect(idp.issuer).toBe(`http://localhost:${idp.port}`);
    expect(discovery.authorization_response_iss_parameter_supported).toBe(true);
    expect(discovery.response_types_supported).toEqual(['code']);
    expect(discovery.code_challenge_methods_supported).toEqual(['S256']);
    expect(discovery.token_endpoint_auth_methods_supported).toEqual(
      expect.arrayContaining(['client_secret_basic', 'client_secret_post']),
    );
    expect(discovery.scopes_supported).toEqual(expect.arrayContaining(['openid', 'email', 'profile']));
  });
});

describe('sign-in with the authorization code flow', () => {
  test('When ada signs in and the code is exchanged with client_secret_basic, then the verified ID token carries her profile', async () => {
    const request = authorizationRequest();

    const callback = await signInAt(request.url, { username: 'ada', password: 'password' });

    expect(`${callback.origin}${callback.pathname}`).toBe(client.redirect_uris[0]);
    expect(callback.searchParams.get('state')).toBe(request.params.get('state'));
    expect(callback.searchParams.get('iss')).toBe(idp.issuer);
    const code = callback.searchParams.get('code');
    expect(code).toBeTruthy();

    const response = await exchangeCode(code!, request.verifier, 'basic');
    expect(response.status).toBe(200);
    const tokens = (await response.json()) as TokenResponse;

    const ada = TEST_USERS.find((user) => user.username === 'ada')!;
    expect(decodeJwt(tokens.id_token)).toMatchObject({
      iss: idp.issuer,
      aud: client.client_id,
      sub: ada.sub,
      nonce: request.params.get('nonce'),
      email: ada.email,
      email_verified: ada.email_verified,
      name: ada.name,
      picture: ada.picture,
    });
    const { payload, protectedHeader } = await jwtVerify(tokens.id_token, createRemoteJWKSet(new URL(discovery.jwks_uri)), {
      issuer: idp.issuer,
      audience: client.client_id,
    });
    expect(protectedHeader.alg).toBe('RS256');
    expect(payload.sub).toBe(ada.sub);
    expect(logLines).toContainEqual(`consent granted: ${ada.sub} -> ${client.client_id}`);
  });

  test('When a user without a picture signs in with client_secret_post, then the ID token omits picture', async () => {
    const request = authorizationRequest();
    const callback = await signInAt(request.url, { username: 'grace', password: 'password' });

    const response = await exchangeCode(callback.searchParams.get('code')!, request.verifier, 'post');
    expect(response.status).toBe(200);
    const claims = decodeJwt(((await response.json()) as TokenResponse).id_token);

    expect(claims).toMatchObject({ sub: 'user-grace', email: 'grace@example.com', name: 'Grace Hopper' });
    expect(claims).not.toHaveProperty('picture');
  });

  test('When only openid is requested, then the ID token carries no email or profile claims', async () => {
    const request = authorizationRequest({ scope: 'openid' });
    const callback = await signInAt(request.url, { username: 'alan', password: 'password' });

    const response = await exchangeCode(callback.searchParams.get('code')!, request.verifier, 'basic');
    const claims = decodeJwt(((await response.json()) as TokenResponse).id_token);

    expect(claims.sub).toBe('user-alan');
    expect(claims).not.toHaveProperty('email');
    expect(claims).not.toHaveProperty('name');
  });

  test('When the code is exchanged with the wrong code_verifier, then the token endpoint answers invalid_grant', async () => {
    const request = authorizationRequest();
    const callback = await signInAt(request.url, { username: 'ada', password: 'password' });

    const response = await exchangeCode(callback.searchParams.get('code')!, randomBytes(32).toString('base64url'), 'basic');

    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: 'invalid_grant' });
  });
});

describe('refusals', () => {
  test('When the password is wrong, then signInAt throws with HTTP 401', async () => {
    const request = authorizationRequest();

    await expect(signInAt(request.url, { username: 'ada', password: 'not-the-password' })).rejects.toThrow(/HTTP 401/);
    expect(logLines).toContainEqual(expect.stringContaining('login refused: "ada"'));
  });

  test('When the authorization request has no PKCE challenge, then the client gets an invalid_request redirect', async () => {
    const request = authorizationRequest();
    request.params.delete('code_challenge');
    request.params.delete('code_challenge_method');

    const callback = await signInAt(`${discovery.authorization_endpoint}?${request.params}`, { username: 'ada', password: 'password' });

    expect(callback.searchParams.get('error')).toBe('invalid_request');
    expect(callback.searchParams.get('code')).toBeNull();
  });

  test('When the redirect_uri is not registered, then signInAt throws instead of following it', async () => {
    const request = authorizationRequest({ redirect_uri: 'http://evil.example/callback' });

    await expect(signInAt(request.url, { username: 'ada', password: 'password' })).rejects.toThrow(/HTTP 400.*redirect_uri/);
  });
});

describe('the login page', () => {
  test('When the login page is rendered, then it lists the test users and escapes the client id', async () => {
    const request = authorizationRequest();
    const authorization = await fetch(request.url, { redirect: 'manual' });
    const interactionUrl = new URL(authorization.headers.get('location')!, idp.issuer);
    const cookies = authorization.headers.getSetCookie().map((cookie) => cookie.split(';')[0]).join('; ');

    const page = await fetch(interactionUrl, { headers: { cookie: cookies } });
    const html = await page.text();

    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(html).toContain(`action="${interactionUrl.pathname}/login"`);
    for (const user of TEST_USERS) expect(html).toContain(`<code>${user.username}</code>`);
  });
});

describe('lifecycle', () => {
  test('When the provider is closed, then its port stops answering and closing again is harmless', async () => {
    const other = await startDevIdp({ port: 0, clients: [client] });
    await fetch(`${other.issuer}/.well-known/openid-configuration`);

    await other.close();
    await other.close();

    await expect(fetch(`${other.issuer}/.well-known/openid-configuration`)).rejects.toThrow();
  });

  test('When a client has no redirect_uris, then startDevIdp rejects naming the path', async () => {
    await expect(startDevIdp({ port: 0, clients: [{ ...client, redirect_uris: [] }] })).rejects.toThrow(
      'clients[0].redirect_uris must be a non-empty array',
    );
  });
});
