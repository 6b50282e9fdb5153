/**
 * The verifier against a JWKS endpoint that misbehaves, as no real server
 * does: served through the `fetch` option, with the `clock` option for time.
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { exportJWK, SignJWT } from 'jose';
import { describe, expect, test, vi } from 'vitest';
import { AccessTokenError, createVerifier, requireAuth, type AccessTokenErrorCode, type VerifierOptions } from '../src/index.js';
import { freshnessMs } from '../src/verifier/jwks.js';
import { signedToken } from './support/tokens.js';

const ISSUER = 'https://auth.example';
const AUDIENCE = 'aimable-api';
const START = 1_700_000_000_000;
const KID = 'ed25519-000000000001';

const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const publicJwk = async (key: KeyObject = publicKey, kid = KID) => ({ ...(await exportJWK(key)), kid, alg: 'EdDSA', use: 'sig' });
const claims = () => ({ iss: ISSUER, aud: AUDIENCE, sub: 'user-1', sid: 'session-1', tenant: 'alpha', iat: START / 1000, exp: START / 1000 + 900, jti: 'jti-1' });
const tokenFor = (kid = KID, key: KeyObject = privateKey) => signedToken(key, { alg: 'EdDSA', kid, typ: 'at+jwt' }, claims());

/** A JWKS endpoint whose every answer the test decides, and that counts its requests. */
function endpoint(answer: () => Response | Promise<Response>) {
  const state = { fetches: 0, now: START };
  const options: VerifierOptions = {
    issuer: ISSUER,
    audience: AUDIENCE,
    clock: () => state.now,
    fetch: async () => {
      state.fetches++;
      return answer();
    },
  };
  return { state, options };
}

const json = (body: unknown, headers: Record<string, string> = {}) => new Response(JSON.stringify(body), { headers: { 'Content-Type': 'application/json', ...headers } });

async function refusal(promise: Promise<unknown>): Promise<AccessTokenErrorCode> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  if (!(error instanceof AccessTokenError)) throw new Error(`expected an AccessTokenError, got ${String(error)}`);
  return error.code;
}

describe('JWKS freshness', () => {
  test('When max-age or Age is out of range, then numbers are capped at 2^31 and a negative or fractional Age is ignored', () => {
    expect(freshnessMs(new Headers({ 'Cache-Control': 'max-age=99999999999999999999999999999999999999999999' }), 0)).toBe(2 ** 31 * 1000);
    expect(freshnessMs(new Headers({ 'Cache-Control': 'max-age=300', Age: '-100000' }), 0)).toBe(300_000);
    expect(freshnessMs(new Headers({ 'Cache-Control': 'max-age=300', Age: '1.5' }), 0)).toBe(300_000);
  });

  test('When the JWKS says to keep it for years, or forever through a negative Age, then it is fetched again after jwksMaxAgeSeconds, or its max-age', async () => {
    const cases: [Record<string, string>, number][] = [
      [{ 'Cache-Control': 'max-age=99999999999999999999999999999999999' }, 600_000],
      [{ 'Cache-Control': 'max-age=300', Age: '-100000' }, 300_000],
    ];
    for (const [headers, keptMs] of cases) {
      const jwk = await publicJwk();
      const { state, options } = endpoint(() => json({ keys: [jwk] }, headers));
      const verifier = createVerifier(options);
      await verifier.verify(tokenFor());
      state.now += keptMs - 1_000;
      await verifier.verify(tokenFor());
      expect(state.fetches).toBe(1);
      state.now += 2_000;
      await verifier.verify(tokenFor());
      expect(state.fetches).toBe(2);
    }
    const jwk = await publicJwk();
    const { state, options } = endpoint(() => json({ keys: [jwk] }, { 'Cache-Control': 'max-age=3600' }));
    const verifier = createVerifier({ ...options, jwksMaxAgeSeconds: 60 });
    await verifier.verify(tokenFor());
    state.now += 61_000;
    await verifier.verify(tokenFor());
    expect(state.fetches).toBe(2);
  });

  test('When the JWKS forbids caching, then it is still kept for the cooldown', async () => {
    const jwk = await publicJwk();
    for (const cacheControl of ['no-cache', 'no-store', 'max-age=0']) {
      const { state, options } = endpoint(() => json({ keys: [jwk] }, { 'Cache-Control': cacheControl }));
      const verifier = createVerifier(options);
      for (let i = 0; i < 5; i++) await verifier.verify(tokenFor());
      expect(state.fetches).toBe(1);
      state.now += 30_000;
      await verifier.verify(tokenFor());
      expect(state.fetches).toBe(2);
    }
  });
});

describe('JWKS failures', () => {
  test('When every fetch fails, then the JWKS is fetched at most once per cooldown, and each token is refused as jwks_unavailable', async () => {
    const { state, options } = endpoint(() => new Response('down', { status: 502 }));
    const verifier = createVerifier(options);
    for (let i = 0; i < 5; i++) expect(await refusal(verifier.verify(tokenFor()))).toBe('jwks_unavailable');
    for (let i = 0; i < 5; i++) expect(await refusal(verifier.verify(tokenFor(`ed25519-forged-${i}`)))).toBe('jwks_unavailable');
    expect(state.fetches).toBe(1);
    state.now += 30_000;
    expect(await refusal(verifier.verify(tokenFor()))).toBe('jwks_unavailable');
    expect(state.fetches).toBe(2);
  });

  test('When fetches fail after a good one, then the last set is used until jwksMaxAgeSeconds, and an unknown kid is refused as unknown_key', async () => {
    const jwk = await publicJwk();
    let up = true;
    const { state, options } = endpoint(() => (up ? json({ keys: [jwk] }, { 'Cache-Control': 'max-age=300' }) : Promise.reject(new TypeError('fetch failed'))));
    const verifier = createVerifier(options);
    await verifier.verify(tokenFor());
    up = false;
    state.now += 301_000;
    expect((await verifier.verify(tokenFor())).tenant).toBe('alpha');
    expect(state.fetches).toBe(2);
    // Within the cooldown of the failed fetch: no fetch, and the forged kid is not blamed on the keys.
    for (let i = 0; i < 5; i++) expect(await refusal(verifier.verify(tokenFor(`ed25519-forged-${i}`)))).toBe('unknown_key');
    expect(state.fetches).toBe(2);
    state.now += 30_000;
    expect(await refusal(verifier.verify(tokenFor('ed25519-forged-x')))).toBe('unknown_key');
    expect(state.fetches).toBe(3);
    state.now = START + 600_000;
    expect(await refusal(verifier.verify(tokenFor()))).toBe('jwks_unavailable');
  });
});

describe('JWKS contents', () => {
  test('When a key of the set does not import, then it is absent: its tokens are refused as unknown_key, the other keys still verify', async () => {
    const good = await publicJwk();
    const { options } = endpoint(() => json({ keys: [{ kty: 'OKP', crv: 'Ed25519', x: 'AAAA', kid: 'ed25519-bad', alg: 'EdDSA' }, { kty: 'OKP', crv: 'Ed25519', kid: 'ed25519-no-x' }, null, 'key', good] }));
    const verifier = createVerifier(options);
    expect(await refusal(verifier.verify(tokenFor('ed25519-bad')))).toBe('unknown_key');
    expect(await refusal(verifier.verify(tokenFor('ed25519-no-x')))).toBe('unknown_key');
    expect((await verifier.verify(tokenFor())).tenant).toBe('alpha');
  });

  test('When a key is not an Ed25519 signing key, then it is not used', async () => {
    const good = await publicJwk();
    const { options } = endpoint(() => json({ keys: [{ ...good, kid: 'enc', use: 'enc' }, { ...good, kid: 'other-alg', alg: 'ES256' }, { ...good, kid: 'no-alg', alg: undefined }] }));
    const verifier = createVerifier(options);
    expect(await refusal(verifier.verify(tokenFor('enc')))).toBe('unknown_key');
    expect(await refusal(verifier.verify(tokenFor('other-alg')))).toBe('unknown_key');
    expect((await verifier.verify(tokenFor('no-alg'))).tenant).toBe('alpha');
  });

  test('When the JWKS response is larger than 64 KiB, declared or not, then it is refused as jwks_unavailable', async () => {
    const jwk = await publicJwk();
    const padded = JSON.stringify({ keys: [jwk], padding: 'x'.repeat(70 * 1024) });
    const declared = endpoint(() => new Response(JSON.stringify({ keys: [jwk] }), { headers: { 'Content-Length': String(65 * 1024) } }));
    expect(await refusal(createVerifier(declared.options).verify(tokenFor()))).toBe('jwks_unavailable');
    const streamed = endpoint(() => new Response(new Blob([padded]).stream()));
    expect(await refusal(createVerifier(streamed.options).verify(tokenFor()))).toBe('jwks_unavailable');
    const within = endpoint(() => new Response(new Blob([JSON.stringify({ keys: [jwk], padding: 'x'.repeat(60 * 1024) })]).stream()));
    expect((await createVerifier(within.options).verify(tokenFor())).tenant).toBe('alpha');
  });

  test('When the JWKS holds more than 20 keys, then only the first 20 are used', async () => {
    const jwk = await publicJwk();
    const keys = Array.from({ length: 25 }, (_, i) => ({ ...jwk, kid: `ed25519-${i}` }));
    const { options } = endpoint(() => json({ keys }));
    const verifier = createVerifier(options);
    expect((await verifier.verify(tokenFor('ed25519-19'))).tenant).toBe('alpha');
    expect(await refusal(verifier.verify(tokenFor('ed25519-20')))).toBe('unknown_key');
  });

  test('When a token is signed ES256 or RS256 with a key the JWKS publishes under its kid, then it is refused as invalid_token', async () => {
    for (const [alg, pair] of [
      ['ES256', generateKeyPairSync('ec', { namedCurve: 'P-256' })],
      ['RS256', generateKeyPairSync('rsa', { modulusLength: 2048 })],
    ] as const) {
      const jwk = { ...(await exportJWK(pair.publicKey)), kid: KID, alg, use: 'sig' };
      const { options } = endpoint(() => json({ keys: [jwk] }));
      const token = await new SignJWT(claims()).setProtectedHeader({ alg, kid: KID, typ: 'at+jwt' }).sign(pair.privateKey);
      expect(await refusal(createVerifier(options).verify(token))).toBe('invalid_token');
    }
  });

  test('When the token names a kid with control characters, then the error message quotes and shortens it', async () => {
    const jwk = await publicJwk();
    const { options } = endpoint(() => json({ keys: [jwk] }));
    const error = (await createVerifier(options).verify(tokenFor(`evil\nkid${'x'.repeat(200)}`)).catch((reason: unknown) => reason)) as Error;
    expect(error.message).toContain('"evil\\nkid');
    expect(error.message).not.toContain('\n');
    expect(error.message.length).toBeLessThan(200);
  });
});

describe('options', () => {
  const base = { issuer: ISSUER, audience: AUDIENCE };

  test('When a limit has no safe value, then createVerifier throws, naming the option', () => {
    expect(() => createVerifier({ ...base, clockToleranceSeconds: 301 })).toThrow('clockToleranceSeconds must be a number of seconds, at most 300');
    expect(() => createVerifier({ ...base, jwksCooldownSeconds: 0 })).toThrow('jwksCooldownSeconds must be a number of seconds, at least 1');
    expect(() => createVerifier({ ...base, jwksTimeoutSeconds: 0 })).toThrow('jwksTimeoutSeconds must be a number of seconds, more than 0');
    expect(() => createVerifier({ ...base, jwksMaxAgeSeconds: 10 })).toThrow('jwksCooldownSeconds must not exceed jwksMaxAgeSeconds');
    expect(() => createVerifier({ ...base, clockToleranceSeconds: 300, jwksCooldownSeconds: 1, jwksTimeoutSeconds: 0.5 })).not.toThrow();
  });

  test('When tenant is present but undefined or empty, then it throws instead of accepting every tenant', async () => {
    expect(() => createVerifier({ ...base, tenant: undefined })).toThrow(new TypeError('createVerifier: tenant, when given, must be a non-empty string'));
    expect(() => createVerifier({ ...base, tenant: null as unknown as string })).toThrow(TypeError);
    const jwk = await publicJwk();
    const verifier = createVerifier(endpoint(() => json({ keys: [jwk] })).options);
    await expect(verifier.verify(tokenFor(), { tenant: undefined })).rejects.toThrow(new TypeError('verify: tenant, when given, must be a non-empty string'));
    await expect(verifier.verify(tokenFor(), { tenant: '' })).rejects.toThrow(TypeError);
    expect((await verifier.verify(tokenFor(), {})).tenant).toBe('alpha');
    expect(() => requireAuth({ verifier, tenant: undefined })).toThrow(new TypeError('requireAuth: tenant, when given, must be a non-empty string'));
    expect(() => requireAuth({ verifier })).not.toThrow();
  });
});

describe('requireAuth, on its own', () => {
  const jwk = publicJwk();
  const verifierOf = async () => createVerifier(endpoint(async () => json({ keys: [await jwk] })).options);
  const response = () => ({ statusCode: 200, headersSent: false, headers: {} as Record<string, string>, body: undefined as string | undefined, setHeader(name: string, value: string) { this.headers[name] = value; }, end(body: string) { this.body = body; } });
  /** The middleware run to its end; its result is the errors `next` was given. */
  async function run(middleware: ReturnType<typeof requireAuth>, req: Parameters<ReturnType<typeof requireAuth>>[0], res: ReturnType<typeof response>, next: (error?: unknown) => void) {
    middleware(req, res, next);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }

  test('When the realm could break the header, then requireAuth throws naming it', async () => {
    const verifier = await verifierOf();
    for (const realm of ['a\r\nSet-Cookie: x=1', 'say "hi"', 'back\\slash', '', 'caf\u00e9']) expect(() => requireAuth({ verifier, realm })).toThrow(/^requireAuth: realm must be/);
    expect(() => requireAuth({ verifier, realm: 'my api' })).not.toThrow();
  });

  test('When next throws, or the response is already sent, then the error goes to next once, and never becomes an unhandled rejection', async () => {
    const unhandled = vi.fn();
    process.on('unhandledRejection', unhandled);
    try {
      const verifier = await verifierOf();
      const middleware = requireAuth({ verifier });
      const failure = new Error('handler failed');
      const calls: unknown[] = [];
      await run(middleware, { headers: { authorization: `Bearer ${tokenFor()}` } }, response(), (error) => {
        calls.push(error);
        if (error === undefined) throw failure;
      });
      expect(calls).toEqual([undefined, failure]);

      const sent = { ...response(), headersSent: true, setHeader: () => { throw new Error('ERR_HTTP_HEADERS_SENT'); } };
      const errors: unknown[] = [];
      await run(middleware, { headers: {} }, sent, (error) => errors.push(error));
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatchObject({ code: 'missing_token' });

      await run(middleware, { headers: {} }, response(), () => {
        throw new Error('the error handler failed too');
      });
      expect(unhandled).not.toHaveBeenCalled();
    } finally {
      process.off('unhandledRejection', unhandled);
    }
  });

  test('When the request has a query, then the problem\'s instance is its path only', async () => {
    const res = response();
    await run(requireAuth({ verifier: await verifierOf() }), { headers: {}, originalUrl: '/api/me?code=secret', url: '/me?code=secret' }, res, () => undefined);
    expect(res.statusCode).toBe(401);
    expect(res.headers['WWW-Authenticate']).toBe('Bearer realm="aimable-auth"');
    expect(JSON.parse(res.body!)).toMatchObject({ instance: '/api/me' });
  });
});
