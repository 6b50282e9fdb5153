import { afterAll, describe, expect, test } from 'vitest';
import { FakeProvider, profiles, type ProviderProfile } from './support/fake-provider.js';
import { postSession, problemCode, startHarness, startJson, type Harness } from './support/harness.js';
import { REDIRECT_URI } from './support/tenants.js';

const running: { close(): Promise<void> }[] = [];
afterAll(async () => {
  for (const each of running.reverse()) await each.close();
});

async function against(profile: ProviderProfile): Promise<{ fake: FakeProvider; h: Harness }> {
  const fake = await FakeProvider.start(profile);
  running.push(fake);
  const h = await startHarness({ issuer: fake.issuer });
  running.push(h);
  return { fake, h };
}

const realProviders = [profiles.google, profiles.keycloak, profiles.entra, profiles.okta, profiles.auth0];

describe('the login with what real providers send back (RFC 6749 §4.1.2: unknown response parameters are ignored)', () => {
  test.each(realProviders.map((p) => [p.name, p] as const))(
    'When %s redirects back with its own parameters and unencoded values, then the login completes',
    async (_name, profile) => {
      const { fake, h } = await against(profile);
      const { authorizationUrl, state, verifier } = await startJson(h);
      const response = fake.authorizationResponse(authorizationUrl);
      expect(response.query).toContain(`state=${state}`);

      const callback = await fetch(`${h.url}/v1/auth/oidc/dev/callback?${response.query}`, { redirect: 'manual' });
      expect(callback.status, await callback.clone().text()).toBe(302);
      const back = new URL(callback.headers.get('location')!);
      expect(`${back.origin}${back.pathname}`).toBe(REDIRECT_URI);
      expect([...back.searchParams.keys()].sort()).toEqual(['code', 'state']);
      expect(back.searchParams.get('code')).toBe(response.code);

      const created = await postSession(h, { code: back.searchParams.get('code'), state: back.searchParams.get('state'), code_verifier: verifier });
      expect(created.status, await created.clone().text()).toBe(201);
      expect(((await created.json()) as { user: { email: string } }).user.email).toBe('eve@example.com');
    },
  );

  test('When Google percent-encodes its code instead, then the login completes the same way', async () => {
    const { fake, h } = await against(profiles.google);
    const { authorizationUrl, verifier } = await startJson(h);
    const { code, query } = fake.authorizationResponse(authorizationUrl);
    const encoded = query.replace(`code=${code}`, `code=${encodeURIComponent(code)}`).replace(`iss=${fake.issuer}`, `iss=${encodeURIComponent(fake.issuer)}`);
    expect(encoded).toContain('code=4%2F0Ab');
    const back = new URL((await fetch(`${h.url}/v1/auth/oidc/dev/callback?${encoded}`, { redirect: 'manual' })).headers.get('location')!);
    expect(back.searchParams.get('code')).toBe(code);
    expect((await postSession(h, { code, state: back.searchParams.get('state'), code_verifier: verifier })).status).toBe(201);
  });

  test('When a provider that sends iss sends another issuer among its extra parameters, then the checks still hold: no code is forwarded', async () => {
    const { fake, h } = await against(profiles.keycloak);
    const { authorizationUrl } = await startJson(h);
    const { query } = fake.authorizationResponse(authorizationUrl);
    const forged = query.replace(`iss=${fake.issuer}`, 'iss=https://attacker.example/realms/acme');
    const back = new URL((await fetch(`${h.url}/v1/auth/oidc/dev/callback?${forged}`, { redirect: 'manual' })).headers.get('location')!);
    expect(back.searchParams.get('code')).toBeNull();
    expect(back.searchParams.get('error')).toBe('invalid_request');
  });

  test('When extra parameters come with an unknown or used state, then the answer is still 400 invalid_state', async () => {
    const { fake, h } = await against(profiles.google);
    const { authorizationUrl, state, verifier } = await startJson(h);
    const { code, query } = fake.authorizationResponse(authorizationUrl);
    const unknown = await fetch(`${h.url}/v1/auth/oidc/dev/callback?${query.replace(`state=${state}`, 'state=made-up')}`, { redirect: 'manual' });
    expect(unknown.status).toBe(400);
    expect(await problemCode(unknown)).toBe('invalid_state');
    expect((await postSession(h, { code, state, code_verifier: verifier })).status).toBe(201);
    const used = await fetch(`${h.url}/v1/auth/oidc/dev/callback?${query}`, { redirect: 'manual' });
    expect(used.status).toBe(400);
    expect(await problemCode(used)).toBe('invalid_state');
  });
});
