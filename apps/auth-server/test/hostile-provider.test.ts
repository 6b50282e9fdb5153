import type { JWTPayload } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { FakeProvider, scenarios, type Scenario } from './support/fake-provider.js';
import { loginThroughFake, postSession, problemCode, startHarness, startJson, startUrl, type Harness } from './support/harness.js';

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
beforeEach(() => {
  fake.scenario = scenarios.valid;
});

const without = (claims: JWTPayload, name: keyof JWTPayload) => {
  const { [name]: _removed, ...rest } = claims;
  return rest;
};

/** The OpenID Foundation RP certification cases an RP must reject. */
const rejected: [string, Scenario][] = [
  ['rp-id_token-bad-sig-rs256 (signed by another key)', (valid, keys) => ({ claims: valid, signWith: keys.rogue })],
  ['rp-id_token-issuer-mismatch', (valid) => ({ claims: { ...valid, iss: 'https://evil.example.com' } })],
  ['rp-id_token-aud (another audience)', (valid) => ({ claims: { ...valid, aud: 'some-other-client' } })],
  ['rp-id_token-sub (missing)', (valid) => ({ claims: without(valid, 'sub') })],
  ['rp-id_token-iat (missing)', (valid) => ({ claims: without(valid, 'iat') })],
  ['rp-nonce-invalid', (valid) => ({ claims: { ...valid, nonce: 'not-the-nonce-we-sent' } })],
  ['an expired ID token', (valid) => ({ claims: { ...valid, iat: Number(valid.iat) - 7200, exp: Number(valid.iat) - 3600 } })],
  ['alg: none', (valid) => ({ claims: valid, unsigned: true })],
];

describe('a hostile identity provider', () => {
  test.each(rejected)('When the ID token fails %s, then session creation answers 401 invalid_grant and creates nothing', async (_name, scenario) => {
    const before = await h.server.store.countRows();
    const login = await loginThroughFake(h, fake);
    fake.scenario = scenario;
    const response = await postSession(h, { code: login.code, state: login.state, code_verifier: login.verifier });
    expect(response.status).toBe(401);
    expect(await problemCode(response)).toBe('invalid_grant');
    const after = await h.server.store.countRows();
    expect(after.sessions).toBe(before.sessions);
    expect(after.users).toBe(before.users);
    expect(after.refreshTokens).toBe(before.refreshTokens);
    // The state is spent: the rejected login cannot be retried, even with a well-behaved provider.
    fake.scenario = scenarios.valid;
    const retry = await postSession(h, { code: login.code, state: login.state, code_verifier: login.verifier });
    expect(await problemCode(retry)).toBe('invalid_state');
    // Nothing the flow handled reached the logs.
    for (const secret of login.secrets) expect(h.logs.join('')).not.toContain(secret);
  });

  test('When the provider says the email is not verified, then the user says so too', async () => {
    fake.scenario = (valid) => ({ claims: { ...valid, email_verified: false } });
    const login = await loginThroughFake(h, fake);
    const response = await postSession(h, { code: login.code, state: login.state, code_verifier: login.verifier });
    expect(((await response.json()) as { user: { email_verified: boolean } }).user.email_verified).toBe(false);
  });

  test('When the ID token is valid, then the session is created (the baseline the cases above differ from)', async () => {
    const login = await loginThroughFake(h, fake);
    const response = await postSession(h, { code: login.code, state: login.state, code_verifier: login.verifier });
    expect(response.status).toBe(201);
    expect(((await response.json()) as { user: { email: string } }).user.email).toBe('eve@example.com');
  });

  test('When the JWKS has a single key without kid and the ID token names none (rp-id_token-kid-absent-single-jwks), then it is accepted', async () => {
    fake.scenario = (valid) => ({ claims: valid, omitKid: true });
    const login = await loginThroughFake(h, fake);
    const response = await postSession(h, { code: login.code, state: login.state, code_verifier: login.verifier });
    expect(response.status).toBe(201);
  });

  test('When the callback carries an iss other than the provider’s (mix-up), then the code is not forwarded', async () => {
    const { authorizationUrl, state, verifier } = await startJson(h);
    const code = fake.authorize(authorizationUrl);
    const callback = await fetch(`${h.url}/v1/auth/oidc/dev/callback?code=${code}&state=${state}&iss=${encodeURIComponent('https://attacker.example')}`, { redirect: 'manual' });
    expect(callback.status).toBe(302);
    const back = new URL(callback.headers.get('location')!);
    expect(back.searchParams.get('code')).toBeNull();
    expect(back.searchParams.get('error')).toBe('invalid_request');
    expect(back.searchParams.get('error_description')).toBeNull();
    void verifier;
  });

  test('When the provider advertises iss in responses and the callback lacks it, then the code is not forwarded', async () => {
    const { authorizationUrl, state } = await startJson(h);
    const callback = await fetch(`${h.url}/v1/auth/oidc/dev/callback?code=${fake.authorize(authorizationUrl)}&state=${state}`, { redirect: 'manual' });
    expect(new URL(callback.headers.get('location')!).searchParams.get('error')).toBe('invalid_request');
  });

  test('When the provider rotates its signing key between two logins (rp-key-rotation-op-sign-key), then the next login verifies with the new key at once', async () => {
    const first = await loginThroughFake(h, fake);
    expect((await postSession(h, { code: first.code, state: first.state, code_verifier: first.verifier })).status).toBe(201);
    await fake.rotateSigningKey();
    const fetchesBefore = fake.jwksRequests;
    const second = await loginThroughFake(h, fake);
    const response = await postSession(h, { code: second.code, state: second.state, code_verifier: second.verifier });
    expect(response.status).toBe(201);
    expect(fake.jwksRequests).toBeGreaterThan(fetchesBefore);
  });
});

describe('provider discovery', () => {
  test('When the provider moves its token endpoint, then the server follows once the discovery lifetime has passed, without a restart', async () => {
    const { ManualClock } = await import('./support/harness.js');
    const clock = new ManualClock();
    const moving = await FakeProvider.start();
    const hm = await startHarness({ issuer: moving.issuer, clock, config: { providerDiscoveryTtlSeconds: 3600 } });
    try {
      const before = await loginThroughFake(hm, moving);
      expect((await postSession(hm, { code: before.code, state: before.state, code_verifier: before.verifier })).status).toBe(201);
      moving.tokenPath = '/oauth2/v2/token';
      clock.advance(3600 * 1000 + 1);
      const after = await loginThroughFake(hm, moving);
      expect((await postSession(hm, { code: after.code, state: after.state, code_verifier: after.verifier })).status).toBe(201);
    } finally {
      await hm.close();
      await moving.close();
    }
  });

  test('When discovery announces a jwks_uri that is no URL, or not a string, then a login fails as the provider unavailable, not as a server error', async () => {
    for (const announced of [42, 'https://[not a host', 'ftp://keys.example.com/jwks']) {
      const odd = await FakeProvider.start();
      odd.announcedJwksUri = announced;
      const ho = await startHarness({ issuer: odd.issuer });
      try {
        const { url } = startUrl(ho);
        const response = await fetch(url, { headers: { 'X-Tenant-Id': 'alpha', Accept: 'application/json' } });
        expect(response.status, String(announced)).toBe(502);
        expect(((await response.json()) as { code: string }).code).toBe('provider_unavailable');
      } finally {
        await ho.close();
        await odd.close();
      }
    }
  });

  test('When discovery fails after its lifetime, then the last good discovery keeps serving', async () => {
    const { ManualClock } = await import('./support/harness.js');
    const clock = new ManualClock();
    const flaky = await FakeProvider.start();
    const hf = await startHarness({ issuer: flaky.issuer, clock, config: { providerDiscoveryTtlSeconds: 60 } });
    try {
      const login = await loginThroughFake(hf, flaky);
      flaky.failDiscovery = true;
      clock.advance(61_000);
      expect((await postSession(hf, { code: login.code, state: login.state, code_verifier: login.verifier })).status).toBe(201);
    } finally {
      await hf.close();
      await flaky.close();
    }
  });
});
