import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signInAtApple, startDevIdp, TEST_USERS, type FormPostResponse, type RunningDevIdp } from '@aimable/dev-idp';
import { freePort } from '@aimable/testing';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { parseTenants } from '../src/config/tenants.js';
import { sha256Hex } from '../src/ids.js';
import { startServer, type RunningServer } from '../src/server.js';
import { postSession, problemCode, startJson, testServerConfig, type Grant, type Harness } from './support/harness.js';
import { API_KEY, REDIRECT_URI, twoTenants } from './support/tenants.js';

const SERVICES_ID = 'dev.aimable.test.signin';
const TEAM_ID = 'TEAM123456';
const KEY_ID = 'KEY1234567';
/** A user whose address Apple has not verified. */
const UNVERIFIED = { username: 'una', password: 'password', sub: 'user-una', email: 'una@example.com', email_verified: false, name: 'Una Verified', picture: null };

const p256 = () => generateKeyPairSync('ec', { namedCurve: 'P-256' });
const pem = (key: KeyObject) => key.export({ format: 'pem', type: 'pkcs8' }).toString();

let h: Harness;
let idp: RunningDevIdp;
let server: RunningServer;

/**
 * The real server, with tenant `alpha` signing in through the fake Apple
 * served by a real dev-idp: provider `apple` holds the team's key,
 * `apple-stolen` signs with another key under the same key id.
 */
beforeAll(async () => {
  const teamKey = p256();
  const port = await freePort();
  const publicUrl = `http://localhost:${port}`;
  idp = await startDevIdp({
    port: 0,
    clients: [{ client_id: 'unused', client_secret: 'unused', redirect_uris: [`${publicUrl}/unused`] }],
    users: [...TEST_USERS, UNVERIFIED],
    fakes: {
      apple: {
        clients: [
          {
            client_id: SERVICES_ID,
            team_id: TEAM_ID,
            key_id: KEY_ID,
            public_key: teamKey.publicKey,
            redirect_uris: [`${publicUrl}/v1/auth/oidc/apple/callback`, `${publicUrl}/v1/auth/oidc/apple-stolen/callback`],
          },
        ],
      },
    },
  });
  const apple = { type: 'apple' as const, display_name: 'Apple', client_id: SERVICES_ID, team_id: TEAM_ID, key_id: KEY_ID, issuer: `${idp.issuer}/apple`, allow_insecure_http: true };
  const file = twoTenants(idp.issuer, {
    alpha: {
      providers: { apple: { ...apple, private_key_env: 'APPLE_KEY' }, 'apple-stolen': { ...apple, private_key_env: 'OTHER_KEY' } },
      redirect_uris: [REDIRECT_URI],
      api_keys: [{ id: 'k1', sha256: sha256Hex(API_KEY) }],
    },
  });
  const dataDir = mkdtempSync(join(tmpdir(), 'aimable-auth-apple-'));
  const config = { ...testServerConfig(port, dataDir, twoTenants(idp.issuer)), tenants: parseTenants(file, { APPLE_KEY: pem(teamKey.privateKey), OTHER_KEY: pem(p256().privateKey), TEST_CLIENT_SECRET: 'unused' }) };
  const logs: string[] = [];
  server = await startServer({ config, logDestination: { write: (line: string) => void logs.push(line) } });
  h = {
    server,
    idp,
    url: publicUrl,
    logs,
    dataDir,
    config,
    close: async () => {
      await server.close();
      await idp.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
});
afterAll(() => h?.close());

interface AppleLogin {
  authorizationUrl: URL;
  verifier: string;
  /** What the fake's page posts to the callback. */
  form: FormPostResponse;
}

async function signInAtFake(username: string, provider = 'apple'): Promise<AppleLogin> {
  const { authorizationUrl, verifier } = await startJson(h, { provider });
  const form = await signInAtApple(authorizationUrl, { username, password: 'password' });
  return { authorizationUrl: new URL(authorizationUrl), verifier, form };
}

/** Posts the form as the browser does from Apple's page: cross-site, with Apple's origin and no credentials. */
function postForm(action: URL | string, fields: URLSearchParams): Promise<Response> {
  return fetch(action, { method: 'POST', body: fields, headers: { Origin: new URL(idp.issuer).origin }, redirect: 'manual' });
}

/** The form post answers 303 to the frontend with the code and state; the frontend redeems them. */
async function redeem(login: AppleLogin, fields = login.form.fields): Promise<Response> {
  const callback = await postForm(login.form.action, fields);
  expect(callback.status).toBe(303);
  const back = new URL(callback.headers.get('location')!);
  expect(`${back.origin}${back.pathname}`).toBe(REDIRECT_URI);
  return postSession(h, { code: back.searchParams.get('code'), state: back.searchParams.get('state'), code_verifier: login.verifier, refresh_token_delivery: 'body' });
}

async function grantOf(response: Response): Promise<Grant & { user: { name: string | null; email_verified: boolean } }> {
  if (response.status !== 201) throw new Error(`session answered ${response.status}: ${await response.text()}`);
  return (await response.json()) as never;
}

describe('Sign in with Apple, through the fake Apple over HTTP', () => {
  test('When a user signs in for the first time, then the callback is a form post, and the session has the ID token email and the posted name', async () => {
    const login = await signInAtFake('ada');
    expect(login.authorizationUrl.searchParams.get('response_mode')).toBe('form_post');
    expect(login.form.action.href).toBe(`${h.url}/v1/auth/oidc/apple/callback`);
    expect(login.form.fields.get('user')).toContain('Lovelace');

    const grant = await grantOf(await redeem(login));
    expect(grant.user).toMatchObject({ email: 'ada@example.com', email_verified: true, name: 'Ada Lovelace' });
  });

  test('When the user signs in again, without the name Apple gives only once, then the first sign-in name is kept', async () => {
    const first = await grantOf(await redeem(await signInAtFake('alan')));
    const second = await signInAtFake('alan');
    expect(second.form.fields.has('user')).toBe(false);

    const again = await grantOf(await redeem(second));
    expect(again.user).toMatchObject({ id: first.user.id, name: 'Alan Turing', email: 'alan@example.com' });
  });

  test('When the unsigned user field claims another email, then the user keeps the ID token email and only the name is taken', async () => {
    const login = await signInAtFake('grace');
    const forged = new URLSearchParams(login.form.fields);
    forged.set('user', JSON.stringify({ name: { firstName: 'Grace', lastName: 'Hopper' }, email: 'attacker@evil.example' }));

    const grant = await grantOf(await redeem(login, forged));
    expect(grant.user).toMatchObject({ email: 'grace@example.com', name: 'Grace Hopper' });
  });

  test('When Apple says email_verified "false", then the email is not verified', async () => {
    const grant = await grantOf(await redeem(await signInAtFake('una')));
    expect(grant.user).toMatchObject({ email: 'una@example.com', email_verified: false, name: 'Una Verified' });
  });

  test('When the callback is posted again with another name, then the name of the first post stays', async () => {
    const login = await signInAtFake('ada');
    const first = await postForm(login.form.action, withUser(login.form.fields, 'Ada', 'Byron'));
    expect(first.status).toBe(303);
    const replayed = await postForm(login.form.action, withUser(login.form.fields, 'Mallory', 'Renamed'));
    expect(replayed.status).toBe(303);
    const back = new URL(replayed.headers.get('location')!);

    const grant = await grantOf(await postSession(h, { code: back.searchParams.get('code'), state: back.searchParams.get('state'), code_verifier: login.verifier, refresh_token_delivery: 'body' }));
    expect(grant.user.name).toBe('Ada Byron');
  });

  test('When the user field is not JSON, or too long a name, then the callback still answers 303 and no name is taken from it', async () => {
    const before = (await grantOf(await redeem(await signInAtFake('ada')))).user.name;
    const login = await signInAtFake('ada');
    const malformed = new URLSearchParams(login.form.fields);
    malformed.set('user', '{"name":{"firstName":"Ada"');
    const grant = await grantOf(await redeem(login, malformed));
    expect(before).toMatch(/^Ada ./);
    expect(grant.user.name).toBe(before);

    const long = await signInAtFake('ada');
    const grantLong = await grantOf(await redeem(long, withUser(long.form.fields, 'A'.repeat(1000), 'B')));
    expect(grantLong.user.name).toBe('A'.repeat(200));
  });

  test('When the server signs its client secret with a key Apple does not know, then Apple refuses it and the login is 401 invalid_grant', async () => {
    const login = await signInAtFake('ada', 'apple-stolen');
    const response = await redeem(login);
    expect(response.status).toBe(401);
    expect(await problemCode(response)).toBe('invalid_grant');
  });

  test('When the form post carries an unknown state, then it answers the same 400 problem as the GET callback', async () => {
    const fields = new URLSearchParams({ state: 'never-issued-state', code: 'c123.0.fake' });
    const posted = await postForm(`${h.url}/v1/auth/oidc/apple/callback`, fields);
    const got = await fetch(`${h.url}/v1/auth/oidc/apple/callback?${fields.toString()}`, { redirect: 'manual' });
    expect(posted.status).toBe(400);
    expect(got.status).toBe(400);
    const [postedProblem, gotProblem] = (await Promise.all([posted.json(), got.json()])) as [Record<string, unknown>, Record<string, unknown>];
    expect(postedProblem.code).toBe('invalid_state');
    expect({ ...postedProblem, request_id: undefined, instance: undefined }).toEqual({ ...gotProblem, request_id: undefined, instance: undefined });
  });

  test('When the form post lacks the state or is not a form, then it is a 400 or 415 problem, never a 5xx', async () => {
    const missing = await postForm(`${h.url}/v1/auth/oidc/apple/callback`, new URLSearchParams({ code: 'c' }));
    expect(missing.status).toBe(400);
    expect(await problemCode(missing)).toBe('invalid_request');
    const json = await fetch(`${h.url}/v1/auth/oidc/apple/callback`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"state":"s"}' });
    expect([400, 415]).toContain(json.status);
  });

  test('When the user cancels at Apple, then the frontend gets an RFC 6749 error, not Apple’s own code', async () => {
    const { authorizationUrl } = await startJson(h, { provider: 'apple' });
    const page = await (await fetch(authorizationUrl)).text();
    const request = /name="request" value="([^"]+)"/.exec(page)![1]!;
    const cancelled = await fetch(new URL('/apple/auth/signin', idp.issuer), { method: 'POST', body: new URLSearchParams({ request, action: 'cancel' }) });
    const fields = new URLSearchParams([...(await cancelled.text()).matchAll(/name="([^"]+)" value="([^"]*)"/g)].map((match): [string, string] => [match[1]!, match[2]!]));
    expect(fields.get('error')).toBe('user_cancelled_authorize');

    const callback = await postForm(`${h.url}/v1/auth/oidc/apple/callback`, fields);
    expect(callback.status).toBe(303);
    expect(new URL(callback.headers.get('location')!).searchParams.get('error')).toBe('server_error');
  });

  test('When Apple signs in users, then no code, state, client secret or private key reaches the logs', async () => {
    const login = await signInAtFake('ada');
    await redeem(login);
    const logText = h.logs.join('');
    expect(logText).not.toContain(login.form.fields.get('code')!);
    expect(logText).not.toContain(login.form.fields.get('state')!);
    expect(logText).not.toContain('PRIVATE KEY');
    expect(logText).not.toMatch(/eyJhbGciOiJFUzI1Ni/);
  });
});

function withUser(fields: URLSearchParams, firstName: string, lastName: string): URLSearchParams {
  const changed = new URLSearchParams(fields);
  changed.set('user', JSON.stringify({ name: { firstName, lastName }, email: 'ignored@example.com' }));
  return changed;
}
