import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { signInAt, startDevIdp, type DevIdpClient, type RunningDevIdp } from '../src/index.js';

const REDIRECT_URI = 'http://localhost:9999/callback';
const keys = await generateKeyPair('ES256');
const publicJwk = { ...(await exportJWK(keys.publicKey)), kid: 'rp-key-1', alg: 'ES256', use: 'sig' };

const clients: DevIdpClient[] = [
  { client_id: 'basic-rp', client_secret: 'basic-secret', redirect_uris: [REDIRECT_URI] },
  { client_id: 'post-rp', client_secret: 'post-secret', redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: 'client_secret_post' },
  { client_id: 'jwt-rp', redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [publicJwk] } },
  { client_id: 'public-rp', redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: 'none' },
];

let idp: RunningDevIdp;
let tokenEndpoint: string;
const logLines: string[] = [];

beforeAll(async () => {
  idp = await startDevIdp({ port: 0, clients, log: (line) => logLines.push(line) });
  const discovery = (await (await fetch(`${idp.issuer}/.well-known/openid-configuration`)).json()) as { token_endpoint: string; token_endpoint_auth_methods_supported: string[] };
  tokenEndpoint = discovery.token_endpoint;
});
afterAll(() => idp?.close());

/** A signed-in code for the client, and the verifier that redeems it. */
async function codeFor(clientId: string): Promise<{ form: URLSearchParams }> {
  const verifier = randomBytes(32).toString('base64url');
  const params = new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: REDIRECT_URI,
    scope: 'openid',
    state: randomBytes(16).toString('base64url'),
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
  });
  const callback = await signInAt(`${idp.issuer}/auth?${params}`, { username: 'ada', password: 'password' });
  const form = new URLSearchParams({ grant_type: 'authorization_code', code: callback.searchParams.get('code')!, redirect_uri: REDIRECT_URI, code_verifier: verifier });
  return { form };
}

function assertionFor(clientId: string, audience: string): Promise<string> {
  return new SignJWT({ jti: randomUUID() })
    .setProtectedHeader({ alg: 'ES256', kid: 'rp-key-1' })
    .setIssuer(clientId)
    .setSubject(clientId)
    .setAudience(audience)
    .setIssuedAt()
    .setExpirationTime('60s')
    .sign(keys.privateKey);
}

const post = (form: URLSearchParams, headers: Record<string, string> = {}) =>
  fetch(tokenEndpoint, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: form });
const basic = (id: string, secret: string) => ({ authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}` });

describe('token endpoint authentication methods', () => {
  test('When clients register other methods, then discovery lists them besides basic and post', async () => {
    const discovery = (await (await fetch(`${idp.issuer}/.well-known/openid-configuration`)).json()) as { token_endpoint_auth_methods_supported: string[] };
    expect(discovery.token_endpoint_auth_methods_supported.sort()).toEqual(['client_secret_basic', 'client_secret_post', 'none', 'private_key_jwt']);
  });

  test('When each client redeems its code with its method, then the log says which method the provider saw', async () => {
    const basicCode = await codeFor('basic-rp');
    expect((await post(basicCode.form, basic('basic-rp', 'basic-secret'))).status).toBe(200);

    const postCode = await codeFor('post-rp');
    postCode.form.set('client_id', 'post-rp');
    postCode.form.set('client_secret', 'post-secret');
    expect((await post(postCode.form)).status).toBe(200);

    const jwtCode = await codeFor('jwt-rp');
    jwtCode.form.set('client_id', 'jwt-rp');
    jwtCode.form.set('client_assertion_type', 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
    jwtCode.form.set('client_assertion', await assertionFor('jwt-rp', idp.issuer));
    expect((await post(jwtCode.form)).status).toBe(200);

    const publicCode = await codeFor('public-rp');
    publicCode.form.set('client_id', 'public-rp');
    expect((await post(publicCode.form)).status).toBe(200);

    expect(logLines.filter((line) => line.startsWith('grant.success'))).toEqual([
      'grant.success: basic-rp authenticated with client_secret_basic',
      'grant.success: post-rp authenticated with client_secret_post',
      'grant.success: jwt-rp authenticated with private_key_jwt',
      'grant.success: public-rp authenticated with none',
    ]);
  });

  test('When a private_key_jwt client sends no assertion, or one signed by another key, then invalid_client', async () => {
    const { form } = await codeFor('jwt-rp');
    form.set('client_id', 'jwt-rp');
    const unauthenticated = await post(form);
    expect(unauthenticated.status).toBe(401);
    expect(await unauthenticated.json()).toMatchObject({ error: 'invalid_client' });

    const rogue = await generateKeyPair('ES256');
    form.set('client_assertion_type', 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
    form.set(
      'client_assertion',
      await new SignJWT({ jti: randomUUID() }).setProtectedHeader({ alg: 'ES256', kid: 'rp-key-1' }).setIssuer('jwt-rp').setSubject('jwt-rp').setAudience(idp.issuer).setIssuedAt().setExpirationTime('60s').sign(rogue.privateKey),
    );
    expect((await post(form)).status).toBe(401);
  });

  test('When a public client sends a secret, or a basic client none, then invalid_client: the registered kind of method is enforced', async () => {
    const publicCode = await codeFor('public-rp');
    expect((await post(publicCode.form, basic('public-rp', 'guess'))).status).toBe(401);
    const basicCode = await codeFor('basic-rp');
    basicCode.form.set('client_id', 'basic-rp');
    expect((await post(basicCode.form)).status).toBe(401);
  });
});

describe('options', () => {
  test('When tokenEndpointAuthMethods is given, then discovery lists exactly those', async () => {
    const only = await startDevIdp({ port: 0, clients: [clients[1]!], tokenEndpointAuthMethods: ['client_secret_post'] });
    try {
      const discovery = (await (await fetch(`${only.issuer}/.well-known/openid-configuration`)).json()) as { token_endpoint_auth_methods_supported: string[] };
      expect(discovery.token_endpoint_auth_methods_supported).toEqual(['client_secret_post']);
    } finally {
      await only.close();
    }
  });

  test('When a client lacks what its method needs, or its method is not offered, then startDevIdp rejects naming the path', async () => {
    await expect(startDevIdp({ port: 0, clients: [{ client_id: 'a', redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: 'private_key_jwt' }] })).rejects.toThrow(
      "clients[0].jwks must hold the client's public keys for private_key_jwt",
    );
    await expect(startDevIdp({ port: 0, clients: [{ client_id: 'a', redirect_uris: [REDIRECT_URI] }] })).rejects.toThrow('clients[0].client_secret must be a non-empty string');
    await expect(startDevIdp({ port: 0, clients: [clients[3]!], tokenEndpointAuthMethods: ['client_secret_basic'] })).rejects.toThrow(
      'clients[0].token_endpoint_auth_method none is not among tokenEndpointAuthMethods',
    );
    await expect(startDevIdp({ port: 0, clients: [{ ...clients[0]!, token_endpoint_auth_method: 'tls_client_auth' as never }] })).rejects.toThrow(
      'clients[0].token_endpoint_auth_method must be one of client_secret_basic, client_secret_post, private_key_jwt, none',
    );
  });
});
