import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { signInAt, startDevIdp, type RunningDevIdp } from '@aimable/dev-idp';
import { freePort } from '@aimable/testing';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { ServerConfig } from '../src/config/server-config.js';
import { pkcePair, testServerConfig } from './support/harness.js';
import { API_KEY, CLIENT_SECRET, REDIRECT_URI, twoTenants } from './support/tenants.js';

const require = createRequire(import.meta.url);
const tsx = require.resolve('tsx');
const entry = fileURLToPath(new URL('./support/server-process.ts', import.meta.url));

let idp: RunningDevIdp;
let dataDir: string;
let config: ServerConfig;
let url: string;
let child: ChildProcess | undefined;

function startProcess(): Promise<ChildProcess> {
  const started = spawn(process.execPath, ['--import', tsx, entry], {
    env: { ...process.env, AUTH_TEST_CONFIG: JSON.stringify(config) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    started.stdout!.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('ready')) resolve(started);
    });
    started.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'aimable-durability-'));
  const port = await freePort();
  url = `http://localhost:${port}`;
  idp = await startDevIdp({ port: 0, clients: [{ client_id: 'aimable-test', client_secret: CLIENT_SECRET, redirect_uris: [`${url}/v1/auth/oidc/dev/callback`] }] });
  config = { ...testServerConfig(port, dataDir, twoTenants(idp.issuer)), logLevel: 'silent' };
  child = await startProcess();
}, 60_000);

afterAll(async () => {
  child?.kill('SIGKILL');
  await idp?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

async function signIn(): Promise<{ refresh_token: string; access_token: string }> {
  const { verifier, challenge } = pkcePair();
  const started = await fetch(`${url}/v1/auth/oidc/dev/start?frontend_redirect_uri=${encodeURIComponent(REDIRECT_URI)}&code_challenge=${challenge}&code_challenge_method=S256`, {
    headers: { 'X-Tenant-Id': 'alpha' },
    redirect: 'manual',
  });
  const back = new URL((await fetch(await signInAt(started.headers.get('location')!, { username: 'ada', password: 'password' }), { redirect: 'manual' })).headers.get('location')!);
  const created = await fetch(`${url}/v1/auth/oidc/session`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Tenant-Id': 'alpha', 'Idempotency-Key': crypto.randomUUID() },
    body: JSON.stringify({ code: back.searchParams.get('code'), state: back.searchParams.get('state'), code_verifier: verifier, refresh_token_delivery: 'body' }),
  });
  return (await created.json()) as { refresh_token: string; access_token: string };
}

const refresh = (token: string) =>
  fetch(`${url}/v1/refresh`, { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-API-Key': API_KEY }, body: JSON.stringify({ refresh_token: token }) });

describe('durability', () => {
  test('When the server is killed with SIGKILL in the middle of a burst of refreshes and restarted, then every grant answered 200 still works or was correctly rotated', async () => {
    const chains = await Promise.all(Array.from({ length: 8 }, () => signIn()));
    const answered = chains.map((grant) => [grant]);
    let killed = false;
    const bursts = chains.map(async (_grant, i) => {
      while (!killed) {
        const latest = answered[i]!.at(-1)!;
        try {
          const response = await refresh(latest.refresh_token);
          if (response.status !== 200) throw new Error(`refresh answered ${response.status}: ${await response.text()}`);
          answered[i]!.push((await response.json()) as { refresh_token: string; access_token: string });
        } catch (error) {
          if (killed) return;
          throw error;
        }
      }
    });
    await new Promise((resolve) => setTimeout(resolve, 400));
    killed = true;
    child!.kill('SIGKILL');
    await Promise.all(bursts);
    const refreshesBeforeKill = answered.reduce((n, chain) => n + chain.length - 1, 0);
    expect(refreshesBeforeKill).toBeGreaterThan(8);

    child = await startProcess();
    for (const chain of answered) {
      const last = chain.at(-1)!;
      // The access token of the last answered grant verifies after the restart (the signing key survived).
      const current = await fetch(`${url}/v1/auth/session`, { headers: { Authorization: `Bearer ${last.access_token}` } });
      expect(current.status).toBe(200);
      // Its refresh token still refreshes: rotated now, or, if the lost request had committed, the grace grant.
      const next = await refresh(last.refresh_token);
      expect(next.status).toBe(200);
      // Every earlier token was correctly rotated: presenting it now is a reuse.
      if (chain.length > 2) {
        const old = await refresh(chain.at(-3)!.refresh_token);
        expect(old.status).toBe(401);
      }
    }
  }, 60_000);
});
