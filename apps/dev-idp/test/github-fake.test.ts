import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startDevIdp, type RunningDevIdp } from '../src/index.js';

const CLIENT = { client_id: 'Ov23liFake', client_secret: 'fake-secret', redirect_uris: ['http://localhost:9999/callback'] };
const ADA = 1001;

let idp: RunningDevIdp;
let github: string;
const logLines: string[] = [];

beforeAll(async () => {
  idp = await startDevIdp({
    port: 0,
    clients: [{ client_id: 'unused', client_secret: 'unused', redirect_uris: ['http://localhost:9999/unused'] }],
    fakes: { github: { clients: [CLIENT] } },
    log: (line) => logLines.push(line),
  });
  github = `${idp.issuer}/github`;
});
afterAll(() => idp?.close());

function pkce() {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

function authorizeParams(challenge: string | undefined): URLSearchParams {
  const params = new URLSearchParams({ client_id: CLIENT.client_id, redirect_uri: CLIENT.redirect_uris[0]!, scope: 'read:user user:email', state: 'st' });
  if (challenge !== undefined) params.set('code_challenge', challenge), params.set('code_challenge_method', 'S256');
  return params;
}

/** Signs in as `account` at the fake's page and returns the code it sends back. */
async function codeFor(account: number, challenge: string): Promise<string> {
  const params = authorizeParams(challenge);
  params.set('account', String(account));
  const response = await fetch(`${github}/login/oauth/authorize`, { method: 'POST', body: params, redirect: 'manual' });
  expect(response.status).toBe(302);
  const back = new URL(response.headers.get('location')!);
  expect(back.searchParams.get('state')).toBe('st');
  return back.searchParams.get('code')!;
}

function exchange(form: Record<string, string>, headers: Record<string, string> = { Accept: 'application/json' }): Promise<Response> {
  return fetch(`${github}/login/oauth/access_token`, { method: 'POST', headers, body: new URLSearchParams(form) });
}

function api(path: string, token: string, headers: Record<string, string> = { 'User-Agent': 'test', 'X-GitHub-Api-Version': '2022-11-28' }): Promise<Response> {
  return fetch(`${github}/api${path}`, { headers: { Authorization: `Bearer ${token}`, ...headers } });
}

describe('the fake of GitHub', () => {
  test('When a client signs a user in with PKCE, then it gets a token in JSON, and the API tells the numeric id and the addresses', async () => {
    const { verifier, challenge } = pkce();
    const page = await fetch(`${github}/login/oauth/authorize?${authorizeParams(challenge)}`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('ada (Ada Lovelace)');

    const code = await codeFor(ADA, challenge);
    const token = await exchange({ client_id: CLIENT.client_id, client_secret: CLIENT.client_secret, code, redirect_uri: CLIENT.redirect_uris[0]!, code_verifier: verifier });
    expect(token.headers.get('content-type')).toMatch(/^application\/json/);
    const { access_token, token_type } = (await token.json()) as { access_token: string; token_type: string };
    expect(token_type).toBe('bearer');

    expect(await (await api('/user', access_token)).json()).toMatchObject({ id: ADA, login: 'ada', name: 'Ada Lovelace' });
    expect(await (await api('/user/emails', access_token)).json()).toEqual([{ email: 'ada@example.com', primary: true, verified: true, visibility: 'private' }]);
    expect((await api('/user', access_token, { 'X-GitHub-Api-Version': '2022-11-28' })).status).toBe(403);
    expect((await api('/user', access_token, { 'User-Agent': 'test' })).status).toBe(400);
    expect((await api('/user', 'gho_unknown')).status).toBe(401);
    expect(logLines.join('\n')).not.toContain(access_token);
  });

  test('When a login comes without a PKCE challenge, then the fake refuses it', async () => {
    expect((await fetch(`${github}/login/oauth/authorize?${authorizeParams(undefined)}`)).status).toBe(400);
  });

  test('When the client does not ask for JSON, then the token comes form-encoded, as GitHub sends it', async () => {
    const { verifier, challenge } = pkce();
    const code = await codeFor(ADA, challenge);
    const basic = Buffer.from(`${CLIENT.client_id}:${CLIENT.client_secret}`).toString('base64');
    const token = await exchange({ code, code_verifier: verifier }, { Authorization: `Basic ${basic}` });
    expect(token.status).toBe(200);
    expect(token.headers.get('content-type')).toMatch(/^application\/x-www-form-urlencoded/);
    expect(new URLSearchParams(await token.text()).get('access_token')).toMatch(/^gho_/);
  });

  test.each([
    ['a wrong secret', { client_secret: 'wrong' }, 'incorrect_client_credentials'],
    ['a wrong verifier', { code_verifier: pkce().verifier }, 'bad_verification_code'],
    ['another redirect_uri', { redirect_uri: 'http://localhost:9999/other' }, 'redirect_uri_mismatch'],
  ])('When the code comes with %s, then the fake answers HTTP 200 with the error, as GitHub does', async (_, change, error) => {
    const { verifier, challenge } = pkce();
    const code = await codeFor(ADA, challenge);
    const token = await exchange({ client_id: CLIENT.client_id, client_secret: CLIENT.client_secret, code, code_verifier: verifier, ...change });
    expect(token.status).toBe(200);
    expect(await token.json()).toMatchObject({ error });
  });

  test('When a code is used twice, then the second time it is refused', async () => {
    const { verifier, challenge } = pkce();
    const code = await codeFor(ADA, challenge);
    const form = { client_id: CLIENT.client_id, client_secret: CLIENT.client_secret, code, code_verifier: verifier };
    expect(await (await exchange(form)).json()).toHaveProperty('access_token');
    expect(await (await exchange(form)).json()).toMatchObject({ error: 'bad_verification_code' });
  });
});
