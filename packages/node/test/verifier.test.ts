import { generateKeyPairSync } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { AccessTokenError, createVerifier, type AccessTokenErrorCode, type Verifier, type VerifierOptions } from '../src/index.js';
import { AUDIENCE, startAuthServer, type AuthServer } from './support/auth-server.js';
import { hmacToken, signedToken, unsecuredToken, withPayload } from './support/tokens.js';

let auth: AuthServer;
/** An access token the server issued to ada, in tenant alpha. */
let token: string;

beforeAll(async () => {
  auth = await startAuthServer();
  token = await auth.signIn('alpha');
}, 60_000);

afterAll(async () => {
  await auth?.close();
});

const verifierFor = (options: Partial<VerifierOptions> = {}): Verifier => createVerifier({ issuer: auth.url, audience: AUDIENCE, ...options });

async function refusal(promise: Promise<unknown>): Promise<AccessTokenErrorCode> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  if (!(error instanceof AccessTokenError)) throw new Error(`expected an AccessTokenError, got ${String(error)}`);
  return error.code;
}

/** The claims of the server's token, for tokens forged with its own key. */
const claimsOf = (text: string) => decodeJwt(text) as Record<string, unknown>;
/** The server's signing key: what a token it would not issue is signed with, to show that the check, not the signature, refuses it. */
const serverKey = () => auth.server.keys.signingKey();
const serverHeader = () => ({ alg: 'EdDSA', kid: serverKey().kid, typ: 'at+jwt' });

describe('verify', () => {
  test('When the token is one the server issued, then its claims are returned, typed', async () => {
    const claims = await verifierFor().verify(token);
    expect(claims).toEqual({
      iss: auth.url,
      aud: AUDIENCE,
      sub: expect.any(String),
      sid: expect.any(String),
      tenant: 'alpha',
      iat: expect.any(Number),
      exp: expect.any(Number),
      jti: expect.any(String),
    });
    expect(claims.exp - claims.iat).toBe(15 * 60);
    const me = (await (await fetch(`${auth.url}/v1/auth/session`, { headers: { Authorization: `Bearer ${token}` } })).json()) as { user: { id: string }; session: { id: string } };
    expect(claims.sub).toBe(me.user.id);
    expect(claims.sid).toBe(me.session.id);
  });

  test('When the issuer is given with a trailing slash, then the tokens still verify', async () => {
    expect((await verifierFor({ issuer: `${auth.url}/` }).verify(token)).tenant).toBe('alpha');
  });

  test('When a claim of the token is changed and its signature kept, then it is refused as invalid_token', async () => {
    expect(await refusal(verifierFor().verify(withPayload(token, { ...claimsOf(token), tenant: 'beta' })))).toBe('invalid_token');
    const signature = token.slice(token.lastIndexOf('.') + 1);
    const flipped = `${token.slice(0, token.lastIndexOf('.') + 1)}${signature[0] === 'A' ? 'B' : 'A'}${signature.slice(1)}`;
    expect(await refusal(verifierFor().verify(flipped))).toBe('invalid_token');
    expect(await refusal(verifierFor().verify('not.a.token'))).toBe('invalid_token');
    expect(await refusal(verifierFor().verify(''))).toBe('missing_token');
  });

  test('When the token has expired, then it is refused as expired, past the clock tolerance and not before', async () => {
    const { exp } = decodeJwt(token);
    const at = (seconds: number) => verifierFor({ clock: () => (exp! + seconds) * 1000 });
    expect((await at(4).verify(token)).tenant).toBe('alpha');
    expect(await refusal(at(5).verify(token))).toBe('expired');
    expect(await refusal(verifierFor({ clock: () => (exp! + 1) * 1000, clockToleranceSeconds: 0 }).verify(token))).toBe('expired');
  });

  test('When the token is not valid before a time still ahead, then it is refused as not_yet_valid', async () => {
    const now = Math.floor(Date.now() / 1000);
    const early = signedToken(serverKey().privateKey, serverHeader(), { ...claimsOf(token), nbf: now + 60 });
    expect(await refusal(verifierFor().verify(early))).toBe('not_yet_valid');
    const almost = signedToken(serverKey().privateKey, serverHeader(), { ...claimsOf(token), nbf: now + 2 });
    expect((await verifierFor().verify(almost)).tenant).toBe('alpha');
  });

  test('When a lifetime limit is set and the token outlives it, or is issued ahead, then it is refused as invalid_token, though its signature is the server\'s', async () => {
    const now = Math.floor(Date.now() / 1000);
    const lived = (iat: number, exp: number) => signedToken(serverKey().privateKey, serverHeader(), { ...claimsOf(token), iat, exp });
    const limited = verifierFor({ maxTokenLifetimeSeconds: 900 });
    expect((await limited.verify(token)).tenant).toBe('alpha');
    expect((await limited.verify(lived(now, now + 905))).tenant).toBe('alpha');
    expect(await refusal(limited.verify(lived(now, now + 906)))).toBe('invalid_token');
    expect(await refusal(limited.verify(lived(now, now + 365 * 24 * 3600)))).toBe('invalid_token');
    expect(await refusal(limited.verify(lived(now + 3600, now + 3600 + 900)))).toBe('invalid_token');
    expect((await verifierFor().verify(lived(now, now + 365 * 24 * 3600))).tenant).toBe('alpha');
  });

  test('When the token is for another audience, or from another issuer, then it is refused as invalid_token', async () => {
    expect(await refusal(verifierFor({ audience: 'another-api' }).verify(token))).toBe('invalid_token');
    expect(await refusal(verifierFor({ issuer: 'http://localhost:1', jwksUri: `${auth.url}/.well-known/jwks.json` }).verify(token))).toBe('invalid_token');
    const forged = signedToken(serverKey().privateKey, serverHeader(), { ...claimsOf(token), iss: 'https://evil.example' });
    expect(await refusal(verifierFor().verify(forged))).toBe('invalid_token');
  });

  test('When the token is not an access token (typ), or lacks a claim the server always issues, then it is refused as invalid_token', async () => {
    const claims = claimsOf(token);
    for (const typ of ['JWT', undefined, 'id_token+jwt']) {
      expect(await refusal(verifierFor().verify(signedToken(serverKey().privateKey, { ...serverHeader(), typ }, claims)))).toBe('invalid_token');
    }
    for (const claim of ['sub', 'sid', 'tenant', 'iat', 'exp', 'jti']) {
      expect(await refusal(verifierFor().verify(signedToken(serverKey().privateKey, serverHeader(), { ...claims, [claim]: undefined })))).toBe('invalid_token');
    }
    expect(await refusal(verifierFor().verify(signedToken(serverKey().privateKey, serverHeader(), { ...claims, sid: 42 })))).toBe('invalid_token');
    expect(await refusal(verifierFor().verify(signedToken(serverKey().privateKey, { alg: 'EdDSA', typ: 'at+jwt' }, claims)))).toBe('invalid_token');
  });

  test('When the token is unsecured (alg none), then it is refused as invalid_token', async () => {
    const { kid } = decodeProtectedHeader(token);
    expect(await refusal(verifierFor().verify(unsecuredToken({ kid, typ: 'at+jwt' }, claimsOf(token))))).toBe('invalid_token');
    expect(await refusal(verifierFor().verify(unsecuredToken({ typ: 'at+jwt' }, claimsOf(token))))).toBe('invalid_token');
  });

  test('When the token is HS256 with the public key as the secret, in any of its forms, then it is refused as invalid_token', async () => {
    const key = serverKey();
    const jwk = key.publicJwk as { x: string };
    const secrets = [
      key.publicKey.export({ type: 'spki', format: 'pem' }),
      key.publicKey.export({ type: 'spki', format: 'der' }),
      Buffer.from(jwk.x, 'base64url'),
      jwk.x,
      JSON.stringify(key.publicJwk),
    ];
    for (const secret of secrets) {
      expect(await refusal(verifierFor().verify(hmacToken(secret, { kid: key.kid, typ: 'at+jwt' }, claimsOf(token))))).toBe('invalid_token');
    }
  });

  test('When the token is signed with a key the issuer does not publish, then it is refused as unknown_key, and the JWKS is fetched again at most once per cooldown', async () => {
    let fetches = 0;
    let now = Date.now();
    const verifier = verifierFor({ clock: () => now, fetch: (input, init) => (fetches++, fetch(input, init)) });
    const stranger = generateKeyPairSync('ed25519').privateKey;
    const forged = (kid: string) => signedToken(stranger, { alg: 'EdDSA', kid, typ: 'at+jwt' }, claimsOf(token));

    expect((await verifier.verify(token)).tenant).toBe('alpha');
    expect(fetches).toBe(1);
    for (const kid of ['ed25519-000000000001', 'ed25519-000000000002', 'ed25519-000000000003']) expect(await refusal(verifier.verify(forged(kid)))).toBe('unknown_key');
    expect(fetches).toBe(1);

    now += 31_000;
    expect(await refusal(Promise.all([verifier.verify(forged('ed25519-000000000004')), verifier.verify(forged('ed25519-000000000005'))]))).toBe('unknown_key');
    expect(fetches).toBe(2);
    expect(await refusal(verifier.verify(forged('ed25519-000000000006')))).toBe('unknown_key');
    expect(fetches).toBe(2);

    // A stranger's key under the server's kid: the signature does not verify.
    expect(await refusal(verifier.verify(forged(serverKey().kid)))).toBe('invalid_token');
  });

  test('When the token was issued for another tenant than the one required, then it is refused as wrong_tenant', async () => {
    const betaToken = await auth.signIn('beta');
    expect((await verifierFor().verify(betaToken)).tenant).toBe('beta');
    expect(await refusal(verifierFor({ tenant: 'alpha' }).verify(betaToken))).toBe('wrong_tenant');
    expect(await refusal(verifierFor().verify(betaToken, { tenant: 'alpha' }))).toBe('wrong_tenant');
    expect((await verifierFor({ tenant: 'alpha' }).verify(betaToken, { tenant: 'beta' })).tenant).toBe('beta');
    expect((await verifierFor({ tenant: 'alpha' }).verify(token)).tenant).toBe('alpha');
  });

  test('When the JWKS cannot be fetched, then the token is refused as jwks_unavailable, with status 503', async () => {
    const error = await verifierFor({ jwksUri: 'http://127.0.0.1:1/.well-known/jwks.json' }).verify(token).catch((reason: unknown) => reason);
    expect(error).toBeInstanceOf(AccessTokenError);
    expect(error).toMatchObject({ code: 'jwks_unavailable', status: 503 });
    const notAKeySet = await verifierFor({ jwksUri: `${auth.url}/healthz` }).verify(token).catch((reason: unknown) => reason);
    expect(notAKeySet).toMatchObject({ code: 'jwks_unavailable' });
  });
});

describe('authenticate', () => {
  const request = (authorization?: string) => new Request('https://api.example/api/me', authorization === undefined ? {} : { headers: { Authorization: authorization } });

  test('When the request carries the token as a Bearer credential, then its claims are returned', async () => {
    expect((await verifierFor().authenticate(request(`Bearer ${token}`))).tenant).toBe('alpha');
    expect((await verifierFor().authenticate(request(`bearer ${token}`))).tenant).toBe('alpha');
  });

  test('When the request carries no Bearer credential, then it is refused as missing_token; a bad one, as invalid_token', async () => {
    expect(await refusal(verifierFor().authenticate(request()))).toBe('missing_token');
    expect(await refusal(verifierFor().authenticate(request(`Basic ${Buffer.from('a:b').toString('base64')}`)))).toBe('missing_token');
    expect(await refusal(verifierFor().authenticate(request('Bearer ')))).toBe('missing_token');
    expect(await refusal(verifierFor().authenticate(request('Bearer x.y.z')))).toBe('invalid_token');
  });

  test('When the tenant is required per call, then a token of another tenant is refused as wrong_tenant', async () => {
    expect(await refusal(verifierFor().authenticate(request(`Bearer ${token}`), { tenant: 'beta' }))).toBe('wrong_tenant');
  });
});

describe('createVerifier', () => {
  test('When an option is not valid, then it throws at once, naming every such option', () => {
    expect(() => createVerifier({ issuer: 'localhost:8080', audience: '' })).toThrow('createVerifier: issuer must be an absolute http(s) URL; audience must be a non-empty string');
    expect(() => createVerifier({ issuer: 'http://auth.internal', audience: 'api' })).toThrow('jwksUri http://auth.internal/.well-known/jwks.json must be https');
    expect(() => createVerifier({ issuer: 'https://auth.example', audience: 'api', clockToleranceSeconds: -1 })).toThrow('clockToleranceSeconds must be a number of seconds, 0 or more');
    expect(() => createVerifier({ issuer: 'http://auth.internal', audience: 'api', allowInsecureHttp: true })).not.toThrow();
    expect(() => createVerifier({ issuer: 'http://127.0.0.1:8080', audience: 'api' })).not.toThrow();
  });
});
