import { createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { signInAtApple, startDevIdp, type RunningDevIdp } from '../src/index.js';

const team = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const CLIENT = { client_id: 'dev.example.signin', team_id: 'TEAM123456', key_id: 'KEY1234567', redirect_uris: ['http://localhost:9999/callback'] };

let idp: RunningDevIdp;
let issuer: string;

beforeAll(async () => {
  idp = await startDevIdp({
    port: 0,
    clients: [{ client_id: 'rp', client_secret: 's', redirect_uris: ['http://localhost:9999/rp'] }],
    fakes: { apple: { clients: [{ ...CLIENT, public_key: team.publicKey }] } },
  });
  issuer = `${idp.issuer}/apple`;
});
afterAll(() => idp?.close());

/** An ES256 client secret as the server signs one; `changes` override its parts. */
function secret(changes: { header?: object; claims?: object; key?: typeof team.privateKey } = {}): string {
  const now = Math.floor(Date.now() / 1000);
  const header = { alg: 'ES256', kid: CLIENT.key_id, ...changes.header };
  const claims = { iss: CLIENT.team_id, sub: CLIENT.client_id, aud: issuer, iat: now, exp: now + 3600, ...changes.claims };
  const input = `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
  return `${input}.${sign('sha256', Buffer.from(input), { key: changes.key ?? team.privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
}

/** Signs ada in at the fake with PKCE, and returns the code with its verifier and nonce. */
async function codeForAda(): Promise<{ code: string; verifier: string; nonce: string; user: string | null }> {
  const verifier = randomBytes(32).toString('base64url');
  const nonce = randomBytes(8).toString('hex');
  const url = new URL(`${issuer}/auth/authorize`);
  for (const [name, value] of Object.entries({
    client_id: CLIENT.client_id,
    redirect_uri: CLIENT.redirect_uris[0]!,
    response_type: 'code',
    response_mode: 'form_post',
    scope: 'openid email name',
    state: 'st',
    nonce,
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
  })) {
    url.searchParams.set(name, value);
  }
  const { action, fields } = await signInAtApple(url.href, { username: 'ada', password: 'password' });
  expect(action.href).toBe(CLIENT.redirect_uris[0]);
  expect(fields.get('state')).toBe('st');
  return { code: fields.get('code')!, verifier, nonce, user: fields.get('user') };
}

function token(code: string, verifier: string, clientSecret: string): Promise<Response> {
  return fetch(`${issuer}/auth/token`, {
    method: 'POST',
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: CLIENT.redirect_uris[0]!, client_id: CLIENT.client_id, client_secret: clientSecret, code_verifier: verifier }),
  });
}

describe('the fake Sign in with Apple', () => {
  test('When a client signs in with a valid secret, then it gets an RS256 ID token of its key set, with the nonce and email_verified as a string; the name comes once', async () => {
    const first = await codeForAda();
    expect(JSON.parse(first.user!)).toEqual({ name: { firstName: 'Ada', lastName: 'Lovelace' }, email: 'ada@example.com' });
    const answer = await token(first.code, first.verifier, secret());
    expect(answer.status).toBe(200);
    const { id_token } = (await answer.json()) as { id_token: string };
    const { payload, protectedHeader } = await jwtVerify(id_token, createRemoteJWKSet(new URL(`${issuer}/auth/keys`)), { issuer, audience: CLIENT.client_id });
    expect(protectedHeader.alg).toBe('RS256');
    expect(payload).toMatchObject({ nonce: first.nonce, email: 'ada@example.com', email_verified: 'true', is_private_email: 'false' });

    const second = await codeForAda();
    expect(second.user).toBeNull();
    // A code is good once.
    expect((await token(first.code, first.verifier, secret())).status).toBe(400);
  });

  test.each([
    ['another key', { key: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey }],
    ['another kid', { header: { kid: 'KEY0000000' } }],
    ['another alg', { header: { alg: 'ES384' } }],
    ['another team', { claims: { iss: 'TEAM000000' } }],
    ['another client', { claims: { sub: 'dev.example.other' } }],
    ['another audience', { claims: { aud: 'https://appleid.apple.com' } }],
    ['an expired one', { claims: { exp: Math.floor(Date.now() / 1000) - 1 } }],
    ['one that expires in more than six months', { claims: { exp: Math.floor(Date.now() / 1000) + 15_777_000 + 60 } }],
  ])('When the client secret is %s, then the token endpoint refuses it with invalid_client', async (_name, changes) => {
    const { code, verifier } = await codeForAda();
    const answer = await token(code, verifier, secret(changes));
    expect(answer.status).toBe(400);
    expect(await answer.json()).toEqual({ error: 'invalid_client' });
  });

  test('When the code verifier does not match the challenge, then invalid_grant', async () => {
    const { code } = await codeForAda();
    const wrongVerifier = await token(code, randomBytes(32).toString('base64url'), secret());
    expect(await wrongVerifier.json()).toEqual({ error: 'invalid_grant' });
  });

  test('When name or email is asked for without form_post, or the return URL is not registered, then the fake refuses as Apple does', async () => {
    const base = { client_id: CLIENT.client_id, redirect_uri: CLIENT.redirect_uris[0]!, response_type: 'code', scope: 'openid email' };
    expect((await fetch(`${issuer}/auth/authorize?${new URLSearchParams(base).toString()}`)).status).toBe(400);
    expect((await fetch(`${issuer}/auth/authorize?${new URLSearchParams({ ...base, response_mode: 'form_post', redirect_uri: 'http://localhost:9999/other' }).toString()}`)).status).toBe(400);
  });
});
