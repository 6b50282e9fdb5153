/**
 * Three server processes on one PostgreSQL, as behind a load balancer: one
 * public URL, one configuration, requests spread over the instances. Every
 * guarantee of a single instance holds across them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { signInAt, startDevIdp, type RunningDevIdp } from '@aimable/dev-idp';
import { freePort } from '@aimable/testing';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import { signedAccessToken } from '../support/access-tokens.js';
import { pkcePair, testServerConfig } from '../support/harness.js';
import { API_KEY, CLIENT_SECRET, REDIRECT_URI, twoTenants } from '../support/tenants.js';
import { createDatabase } from '../support/postgres.js';
import { systemClock } from '../../src/clock.js';
import { openPostgresStore } from '../../src/store/postgres.js';
import { KeyRing, type SigningKey } from '../../src/tokens/key-ring.js';

const require = createRequire(import.meta.url);
const tsx = require.resolve('tsx');
const serverEntry = fileURLToPath(new URL('../support/server-process.ts', import.meta.url));
const adminEntry = fileURLToPath(new URL('../../src/admin.ts', import.meta.url));

/** Per client address and minute: low, so that the test can count to it across instances. */
const START_LIMIT = 6;

interface Instance {
  name: string;
  url: string;
  child: ChildProcess;
}

let databaseUrl: string;
let db: pg.Client;
let idp: RunningDevIdp;
let idpProxy: Server;
/** Code exchanges (POST /token) the provider saw. */
let tokenRequests = 0;
let publicUrl: string;
const dataDirs: string[] = [];
let instances: Instance[] = [];

async function startInstance(name: string, port: number): Promise<Instance> {
  // Each instance has a data directory of its own: with a database URL, nothing may depend on it.
  const dataDir = mkdtempSync(join(tmpdir(), `aimable-${name}-`));
  dataDirs.push(dataDir);
  const config = {
    ...testServerConfig(port, dataDir, twoTenants(idp.issuer), {
      databaseUrl,
      keyRefreshSeconds: 1,
      trustProxy: ['loopback'],
      rateLimits: { start: { points: START_LIMIT, globalPoints: 1_000_000 } },
    }),
    publicUrl,
    logLevel: 'silent',
  };
  const child = spawn(process.execPath, ['--import', tsx, serverEntry], { env: { ...process.env, AUTH_TEST_CONFIG: JSON.stringify(config) }, stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => chunk.toString().includes('ready') && resolve());
    child.once('exit', (code) => reject(new Error(`${name} exited with ${code}`)));
  });
  return { name, url: `http://localhost:${port}`, child };
}

beforeAll(async () => {
  const serverUrl = inject('postgresUrl');
  if (!serverUrl) throw new Error('These tests run under `pnpm test:postgres`, which starts PostgreSQL');
  databaseUrl = await createDatabase(serverUrl);
  db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();

  // The provider behind a proxy that counts code exchanges; its issuer is the proxy's address.
  const [idpPort, proxyPort, lbPort, ...ports] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort(), freePort()]);
  publicUrl = `http://localhost:${lbPort}`;
  idp = await startDevIdp({
    port: idpPort,
    issuer: `http://localhost:${proxyPort}`,
    clients: [{ client_id: 'aimable-test', client_secret: CLIENT_SECRET, redirect_uris: [`${publicUrl}/v1/auth/oidc/dev/callback`] }],
  });
  idpProxy = createServer((req, res) => {
    if (req.method === 'POST' && req.url?.startsWith('/token')) tokenRequests++;
    const upstream = request({ host: '127.0.0.1', port: idpPort, path: req.url, method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode!, answer.headers);
      answer.pipe(res);
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => idpProxy.listen(proxyPort, '127.0.0.1', resolve));

  // The first start creates the schema and the keys; the others find them (and may race for them).
  instances = await Promise.all(['a', 'b', 'c'].map((name, i) => startInstance(name, ports[i]!)));
}, 120_000);

afterAll(async () => {
  for (const instance of instances) instance.child.kill('SIGKILL');
  await db?.end();
  await idp?.close();
  idpProxy?.close();
  for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
});

const A = () => instances[0]!;
const B = () => instances[1]!;
const C = () => instances[2]!;

/** A client address of its own for each login, through the trusted proxy header: the start limit counts per address. */
const someClient = () => `198.51.100.${1 + (randomBytes(1)[0]! % 250)}`;

/** Start on one instance, sign in at the provider, and come back to the callback on another. */
async function login(startOn: Instance, callbackOn: Instance, username = 'ada'): Promise<{ code: string; state: string; verifier: string }> {
  const { verifier, challenge } = pkcePair();
  const started = await fetch(
    `${startOn.url}/v1/auth/oidc/dev/start?frontend_redirect_uri=${encodeURIComponent(REDIRECT_URI)}&code_challenge=${challenge}&code_challenge_method=S256`,
    { headers: { 'X-Tenant-Id': 'alpha', 'X-Forwarded-For': someClient() }, redirect: 'manual' },
  );
  expect(started.status).toBe(302);
  const providerReturn = new URL(await signInAt(started.headers.get('location')!, { username, password: 'password' }));
  // The load balancer sends the callback to whichever instance it likes.
  const callback = await fetch(`${callbackOn.url}${providerReturn.pathname}${providerReturn.search}`, { redirect: 'manual' });
  expect(callback.status).toBe(302);
  const back = new URL(callback.headers.get('location')!);
  return { code: back.searchParams.get('code')!, state: back.searchParams.get('state')!, verifier };
}

function createSession(on: Instance, body: { code: string; state: string; verifier: string }, key: string = randomUUID()): Promise<Response> {
  return fetch(`${on.url}/v1/auth/oidc/session`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Tenant-Id': 'alpha', 'Idempotency-Key': key, 'X-Forwarded-For': someClient() },
    body: JSON.stringify({ code: body.code, state: body.state, code_verifier: body.verifier, refresh_token_delivery: 'body' }),
  });
}

interface Grant {
  access_token: string;
  refresh_token: string;
  session: { id: string };
}

async function signIn(on: Instance): Promise<Grant> {
  const created = await createSession(on, await login(on, on));
  expect(created.status).toBe(201);
  return (await created.json()) as Grant;
}

const refresh = (on: Instance, token: string) =>
  fetch(`${on.url}/v1/refresh`, { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-API-Key': API_KEY }, body: JSON.stringify({ refresh_token: token }) });

/** An operator command (`pnpm migrate`, `pnpm rotate-keys`) on the instances' database. */
async function admin(args: string[]): Promise<{ code: number | null; out: string }> {
  const child = spawn(process.execPath, ['--import', tsx, adminEntry, ...args], { env: { ...process.env, DATABASE_URL: databaseUrl }, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { code, out };
}

/** The key the instances sign with now, private half included, as the key ring reads it from the database. */
async function signingKeyNow(): Promise<SigningKey> {
  const { store } = await openPostgresStore(databaseUrl, { migrate: false, pool: { max: 1 } });
  try {
    return (await KeyRing.open(store, systemClock, { publishOverlapMs: 0, refreshMs: 60_000 })).signingKey();
  } finally {
    await store.close();
  }
}

/** An access token as whoever holds `key` can sign it, with the claims given. */
function forgeWith(key: SigningKey, claims: Record<string, unknown>): string {
  return signedAccessToken(key, { ...claims, jti: randomUUID() });
}

const count = async (query: string, values: unknown[] = []) => Number((await db.query<{ n: string }>(query, values)).rows[0]!.n);

describe('three instances on one PostgreSQL', () => {
  test('When the instances started at once on an empty database, then they publish the same JWKS', async () => {
    const sets = await Promise.all(instances.map(async (instance) => (await fetch(`${instance.url}/.well-known/jwks.json`)).json()));
    expect(sets[1]).toEqual(sets[0]);
    expect(sets[2]).toEqual(sets[0]);
    expect(await count(`select count(*) as n from server_keys`)).toBe(2);
  });

  test('When a login starts on A, then it completes on B and its session is created on C', async () => {
    const body = await login(A(), B());
    const created = await createSession(C(), body);
    expect(created.status).toBe(201);
    const grant = (await created.json()) as Grant;
    const me = await fetch(`${A().url}/v1/auth/session`, { headers: { Authorization: `Bearer ${grant.access_token}` } });
    expect(me.status).toBe(200);
  });

  test('When 50 identical session requests arrive at once, spread over the instances, then there is exactly one session and one code exchange, and every answer is that session', async () => {
    const body = await login(A(), A());
    const sessionsBefore = await count(`select count(*) as n from sessions`);
    const exchangesBefore = tokenRequests;
    const key = randomUUID();
    const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => createSession(instances[i % 3]!, body, key)));
    const statuses = answers.map((answer) => answer.status);
    expect(statuses.every((status) => status === 201 || status === 409)).toBe(true);
    expect(answers.filter((answer) => answer.status === 409).every((answer) => answer.headers.get('retry-after') !== null)).toBe(true);
    // Those told to wait retry with the same key, as the client does, and get the one answer.
    const bodies = await Promise.all(
      answers.map(async (answer, i) => {
        let final = answer;
        for (let attempt = 0; final.status === 409 && attempt < 20; attempt++) {
          await new Promise((resolve) => setTimeout(resolve, 250));
          final = await createSession(instances[(i + 1) % 3]!, body, key);
        }
        expect(final.status).toBe(201);
        return (await final.json()) as Grant;
      }),
    );
    expect(new Set(bodies.map((grant) => grant.session.id)).size).toBe(1);
    expect(new Set(bodies.map((grant) => grant.refresh_token)).size).toBe(1);
    expect(await count(`select count(*) as n from sessions`)).toBe(sessionsBefore + 1);
    expect(tokenRequests - exchangesBefore).toBe(1);
  });

  test('When one refresh token is refreshed at once on every instance, then it rotates once and every answer is the same grant', async () => {
    const grant = await signIn(A());
    const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => refresh(instances[i % 3]!, grant.refresh_token)));
    expect(answers.map((answer) => answer.status)).toEqual(Array.from({ length: 12 }, () => 200));
    const grants = (await Promise.all(answers.map((answer) => answer.json()))) as Grant[];
    expect(new Set(grants.map((each) => each.refresh_token)).size).toBe(1);
    expect(await count(`select count(*) as n from refresh_tokens where session_id = $1`, [grant.session.id])).toBe(2);
  });

  test('When a retired token comes back on another instance after its successor was rotated too, then the reuse is detected and the session ends everywhere', async () => {
    const grant = await signIn(A());
    const second = (await (await refresh(A(), grant.refresh_token)).json()) as Grant;
    const third = (await (await refresh(B(), second.refresh_token)).json()) as Grant;
    const reused = await refresh(C(), grant.refresh_token);
    expect(reused.status).toBe(401);
    expect(((await reused.json()) as { code: string }).code).toBe('refresh_token_reused');
    expect((await refresh(A(), third.refresh_token)).status).toBe(401);
    const me = await fetch(`${B().url}/v1/auth/session`, { headers: { Authorization: `Bearer ${third.access_token}` } });
    expect(me.status).toBe(401);
  });

  test('When a client forges an overlong X-Forwarded-For, then its refresh is answered and audited, without the address', async () => {
    const grant = await signIn(A());
    const forged = await fetch(`${B().url}/v1/refresh`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-API-Key': API_KEY, 'X-Forwarded-For': 'x'.repeat(300) },
      body: JSON.stringify({ refresh_token: grant.refresh_token }),
    });
    expect(forged.status).toBe(200);
    const audited = await db.query<{ type: string; client_address: string | null }>(`select type, client_address from audit_events where request_id = $1`, [forged.headers.get('x-request-id')]);
    expect(audited.rows).toEqual([{ type: 'session_refreshed', client_address: null }]);
  });

  test('When one client starts logins on every instance in turn, then the limit counts them together', async () => {
    const client = '203.0.113.77';
    const statuses: number[] = [];
    for (let i = 0; i < START_LIMIT + 3; i++) {
      const { challenge } = pkcePair();
      const answer = await fetch(
        `${instances[i % 3]!.url}/v1/auth/oidc/dev/start?frontend_redirect_uri=${encodeURIComponent(REDIRECT_URI)}&code_challenge=${challenge}&code_challenge_method=S256`,
        { headers: { 'X-Tenant-Id': 'alpha', 'X-Forwarded-For': client }, redirect: 'manual' },
      );
      statuses.push(answer.status);
      if (answer.status === 429) expect(Number(answer.headers.get('retry-after'))).toBeGreaterThan(0);
    }
    expect(statuses).toEqual([...Array.from({ length: START_LIMIT }, () => 302), 429, 429, 429]);
    // Once refused, an instance refuses that client from memory until the window ends: a flood writes nothing more.
    const counted = () => count(`select points as n from rate_limits where key = $1`, [`start:client:${client}`]);
    const before = await counted();
    for (const instance of instances) {
      const again = await fetch(`${instance.url}/v1/auth/oidc/dev/start?frontend_redirect_uri=${encodeURIComponent(REDIRECT_URI)}`, { headers: { 'X-Tenant-Id': 'alpha', 'X-Forwarded-For': client }, redirect: 'manual' });
      expect(again.status).toBe(429);
    }
    expect(await counted()).toBe(before);
  });

  test('When the keys are rotated (pnpm rotate-keys), then A signs with the new key, B verifies its tokens, and tokens of the old key still verify', async () => {
    const before = await signIn(A());
    const oldKid = decodeProtectedHeader(before.access_token).kid;
    const rotation = spawn(process.execPath, ['--import', tsx, adminEntry, 'rotate-keys', '--kind', 'both', '--activate-in', '0'], {
      env: { ...process.env, DATABASE_URL: databaseUrl },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let printed = '';
    rotation.stdout!.on('data', (chunk: Buffer) => (printed += chunk.toString()));
    expect(await new Promise((resolve) => rotation.once('exit', resolve))).toBe(0);
    const newKid = /signing key (\S+) generation 2/.exec(printed)?.[1];
    expect(newKid).toBeDefined();

    // A takes the rotation up at its next read of the keys (every second here).
    let after: Grant | undefined;
    for (let attempt = 0; attempt < 20 && decodeProtectedHeader(after?.access_token ?? before.access_token).kid !== newKid; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      after = (await (await refresh(A(), (after ?? before).refresh_token)).json()) as Grant;
    }
    expect(decodeProtectedHeader(after!.access_token).kid).toBe(newKid);
    for (const token of [after!.access_token, before.access_token]) {
      expect((await fetch(`${B().url}/v1/auth/session`, { headers: { Authorization: `Bearer ${token}` } })).status).toBe(200);
    }
    // C publishes both once it has read the keys again (every second here), whether or not it has verified a new token.
    const published = async () => ((await (await fetch(`${C().url}/.well-known/jwks.json`)).json()) as { keys: { kid: string }[] }).keys.map((key) => key.kid).sort();
    await expect.poll(published, { timeout: 5_000, interval: 200 }).toEqual([oldKid, newKid].sort());
  });

  test('When a leaked signing key is rotated out and retired (pnpm rotate-keys --retire), then every instance refuses its tokens from its next read of the keys, and none publishes it', async () => {
    const grant = await signIn(A());
    const leaked = await signingKeyNow();
    expect(decodeProtectedHeader(grant.access_token).kid).toBe(leaked.kid);
    // The very claims of the grant's token (its lifetime the tenant's), signed anew by whoever holds the key.
    const forged = forgeWith(leaked, decodeJwt(grant.access_token));
    const status = (instance: Instance, token: string) => fetch(`${instance.url}/v1/auth/session`, { headers: { Authorization: `Bearer ${token}` } }).then((answer) => answer.status);
    expect(await Promise.all(instances.map((instance) => status(instance, forged)))).toEqual([200, 200, 200]);

    expect(await admin(['rotate-keys', '--kind', 'signing', '--activate-in', '0'])).toMatchObject({ code: 0 });
    const retired = await admin(['rotate-keys', '--retire', leaked.kid]);
    expect(retired).toMatchObject({ code: 0, out: expect.stringContaining(`signing key ${leaked.kid}`) });

    // Each instance reads the keys every second here: the key's tokens, remembered as verified or not, go with it.
    for (const instance of instances) {
      await expect.poll(() => status(instance, forged), { timeout: 5_000, interval: 200 }).toBe(401);
      expect(await status(instance, grant.access_token)).toBe(401);
      const published = ((await (await fetch(`${instance.url}/.well-known/jwks.json`)).json()) as { keys: { kid: string }[] }).keys.map((key) => key.kid);
      expect(published).not.toContain(leaked.kid);
    }
    // The session lives on: a refresh gives a token of the new key, accepted everywhere.
    const refreshed = (await (await refresh(B(), grant.refresh_token)).json()) as Grant;
    expect(await Promise.all(instances.map((instance) => status(instance, refreshed.access_token)))).toEqual([200, 200, 200]);
  });

  test('When an instance is killed with SIGKILL in the middle of a burst of refreshes, then every grant it answered still refreshes on another instance', async () => {
    const victim = C();
    const chains = await Promise.all(Array.from({ length: 6 }, () => signIn(victim)));
    const answered = chains.map((grant) => [grant]);
    let killed = false;
    const bursts = chains.map(async (_grant, i) => {
      while (!killed) {
        try {
          const response = await refresh(victim, answered[i]!.at(-1)!.refresh_token);
          if (response.status !== 200) throw new Error(`refresh answered ${response.status}: ${await response.text()}`);
          const next = (await response.json()) as Grant;
          if (!killed) answered[i]!.push(next);
        } catch (error) {
          if (!killed) throw error;
        }
      }
    });
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    killed = true;
    victim.child.kill('SIGKILL');
    await Promise.all(bursts);
    expect(answered.reduce((sum, chain) => sum + chain.length - 1, 0)).toBeGreaterThan(6);
    // The last answer of each chain works on a survivor: as the current token, or within the grace window of a rotation that committed unanswered.
    const last = await Promise.all(answered.map((chain) => refresh(A(), chain.at(-1)!.refresh_token)));
    expect(last.map((answer) => answer.status)).toEqual(chains.map(() => 200));
  });
});
