import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { sha256Hex } from '../src/ids.js';
import { FakeProvider, profiles } from './support/fake-provider.js';
import { startHarness, type Harness } from './support/harness.js';

/** The API doc's four examples, exactly as it prints them. */
const doc = {
  start: `curl -X GET "https://api.example.com/v1/auth/oidc/google/start?frontend_redirect_uri=https://yourapp.com/callback" -H "X-Tenant-Id: your-tenant-id"`,
  callback: `curl -X GET "https://api.example.com/v1/auth/oidc/google/callback?code=auth_code&state=state_value"`,
  session: `curl -X POST "https://api.example.com/v1/auth/oidc/session" -H "Idempotency-Key: unique-key" -d '{"code": "auth_code", "state": "state_value"}'`,
  refresh: `curl -X POST "https://api.example.com/v1/refresh" -H "X-API-Key: your-api-key"`,
};

interface Curl {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string;
}

/** Reads a curl line of the doc: -X, the quoted URL, -H headers and a -d body. */
function parseCurl(line: string): Curl {
  const method = /-X (\w+)/.exec(line)?.[1] ?? 'GET';
  const url = /"(https?:\/\/[^"]+)"/.exec(line)![1]!;
  const headers = Object.fromEntries([...line.matchAll(/-H "([^:]+): ([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
  const body = /-d '([^']*)'/.exec(line)?.[1];
  return { method, url, headers, body };
}

/** Sends a doc example to the server under test: the same request, on its host, with only Content-Type added to a POST with a body. */
function send(h: Harness, line: string, replace: Record<string, string> = {}): Promise<Response> {
  const curl = parseCurl(line);
  let url = curl.url.replace('https://api.example.com', h.url);
  let body = curl.body;
  for (const [from, to] of Object.entries(replace)) {
    url = url.replace(from, to);
    body = body?.replace(from, to);
  }
  const headers = { ...curl.headers, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) };
  return fetch(url, { method: curl.method, headers, body, redirect: 'manual' });
}

/** A tenant set up as the doc assumes: `your-tenant-id`, a `google` provider, and `https://yourapp.com/callback`. */
async function docTenant(fake: FakeProvider, frontendPkce: 'required' | 'optional'): Promise<Harness> {
  return startHarness({
    issuer: fake.issuer,
    tenants: (issuer) => ({
      tenants: [
        {
          id: 'your-tenant-id',
          providers: {
            google: { display_name: 'Google', issuer, client_id: 'aimable-test', client_secret_env: 'TEST_CLIENT_SECRET', allow_insecure_http: true },
          },
          redirect_uris: ['https://yourapp.com/callback'],
          api_keys: [{ id: 'web', sha256: sha256Hex('ak_a_real_key_of_this_tenant') }],
          session_policy: { frontend_pkce: frontendPkce },
        },
      ],
    }),
  });
}

let fake: FakeProvider;
let optional: Harness;
let required: Harness;
beforeAll(async () => {
  fake = await FakeProvider.start(profiles.google);
  optional = await docTenant(fake, 'optional');
  required = await docTenant(fake, 'required');
});
afterAll(async () => {
  await optional?.close();
  await required?.close();
  await fake?.close();
});

async function problemOf(response: Response): Promise<{ code: string; detail: string; errors?: { location: string }[] }> {
  expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  return (await response.json()) as never;
}

describe('the API doc’s own examples, sent as written', () => {
  test('When the start example is sent, then it gets the 302 to the provider, with frontend_redirect_uri unencoded as in the doc', async () => {
    const response = await send(optional, doc.start);
    expect(response.status).toBe(302);
    const location = new URL(response.headers.get('location')!);
    expect(location.origin).toBe(new URL(fake.issuer).origin);
    expect(location.searchParams.get('state')).toBeTruthy();
  });

  test('When the start example reaches a tenant that requires frontend PKCE, then 400 names code_challenge', async () => {
    const response = await send(required, doc.start);
    expect(response.status).toBe(400);
    const problem = await problemOf(response);
    expect(problem.errors?.map((e) => e.location)).toEqual(['query.code_challenge']);
    expect(problem.detail).toContain('code_challenge');
  });

  test('When the callback example is sent with its made-up state, then 400 invalid_state', async () => {
    const response = await send(optional, doc.callback);
    expect(response.status).toBe(400);
    expect((await problemOf(response)).code).toBe('invalid_state');
  });

  test('When the session example is sent without X-Tenant-Id, then the state decides: 401 invalid_state, not a missing header', async () => {
    const response = await send(optional, doc.session);
    expect(response.status).toBe(401);
    expect((await problemOf(response)).code).toBe('invalid_state');
  });

  test('When the refresh example is sent with its placeholder key, then 401 invalid_api_key', async () => {
    const response = await send(optional, doc.refresh);
    expect(response.status).toBe(401);
    expect((await problemOf(response)).code).toBe('invalid_api_key');
  });

  test('When the doc’s flow is followed with real values, then start, callback and session each work in the doc’s own form', async () => {
    const started = await send(optional, doc.start);
    const { code, query } = fake.authorizationResponse(started.headers.get('location')!);
    const state = new URL(started.headers.get('location')!).searchParams.get('state')!;
    const callback = await send(optional, doc.callback.replace('code=auth_code&state=state_value', query));
    expect(callback.status).toBe(302);
    const back = new URL(callback.headers.get('location')!);
    expect(`${back.origin}${back.pathname}`).toBe('https://yourapp.com/callback');
    expect(back.searchParams.get('code')).toBe(code);
    const session = await send(optional, doc.session, { auth_code: code, state_value: state });
    expect(session.status).toBe(201);
    expect(session.headers.get('set-cookie')).toMatch(/^__Host-aimable_refresh_your-tenant-id=/);
  });
});
