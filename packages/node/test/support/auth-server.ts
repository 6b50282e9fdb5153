/**
 * A real Aimable server on a fresh SQLite database, with the real local
 * identity provider, both from their packages, over loopback HTTP: the
 * tokens the verifier is tested on are the server's own.
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { buildServerConfig, parseTenants, startServer, type RunningServer } from '@aimable/auth-server';
import { signInAt, startDevIdp, type RunningDevIdp } from '@aimable/dev-idp';
import { freePort } from '@aimable/testing';

const CLIENT_SECRET = 'verifier-test-client-secret';
const REDIRECT_URI = 'http://localhost:5173/auth/callback';
export const AUDIENCE = 'aimable-api';

export interface AuthServer {
  /** The server's public URL: its tokens' `iss`. */
  url: string;
  server: RunningServer;
  /** A signed-in user's access token, issued for `tenant` (`alpha` or `beta`). */
  signIn(tenant?: 'alpha' | 'beta'): Promise<string>;
  /** `aimable-auth rotate-keys --kind signing --activate-in 0`: a new key signs at once. Its kid. */
  rotateSigningKey(): Promise<string>;
  /** `aimable-auth rotate-keys --retire <kid>`: the key leaves the JWKS. */
  retireSigningKey(kid: string): Promise<void>;
  publishedKids(): Promise<string[]>;
  close(): Promise<void>;
}

export async function startAuthServer(): Promise<AuthServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'aimable-auth-node-test-'));
  const keyEncryptionSecret = randomBytes(32).toString('base64');
  const port = await freePort();
  const url = `http://localhost:${port}`;
  const idp: RunningDevIdp = await startDevIdp({
    port: 0,
    clients: [{ client_id: 'verifier-test', client_secret: CLIENT_SECRET, redirect_uris: [`${url}/v1/auth/oidc/dev/callback`] }],
  });
  const tenant = (id: string) => ({
    id,
    providers: { dev: { display_name: 'Local', issuer: idp.issuer, client_id: 'verifier-test', client_secret_env: 'TEST_CLIENT_SECRET', allow_insecure_http: true } },
    redirect_uris: [REDIRECT_URI],
    api_keys: [{ id: 'k1', sha256: createHash('sha256').update(`ak_${id}`).digest('hex') }],
  });
  const server = await startServer({
    config: buildServerConfig({
      port,
      host: '127.0.0.1',
      dataDir,
      keyEncryptionSecret,
      accessTokenAudience: AUDIENCE,
      tenants: parseTenants({ tenants: [tenant('alpha'), tenant('beta')] }, { TEST_CLIENT_SECRET: CLIENT_SECRET }),
    }),
    logDestination: { write: () => {} },
  });
  const cli = join(dirname(fileURLToPath(import.meta.resolve('@aimable/auth-server'))), 'cli.js');
  const rotateKeys = async (...args: string[]): Promise<string> => {
    const { stdout } = await promisify(execFile)(process.execPath, [cli, 'rotate-keys', ...args], {
      env: { ...process.env, AUTH_DATA_DIR: dataDir, AUTH_KEY_ENCRYPTION_SECRET: keyEncryptionSecret },
    });
    // Every instance reads the keys again every AUTH_KEY_REFRESH_SECONDS; this one, now.
    await server.keys.reload();
    return stdout;
  };
  const publishedKids = async () => ((await (await fetch(`${url}/.well-known/jwks.json`)).json()) as { keys: { kid: string }[] }).keys.map((key) => key.kid);

  return {
    url,
    server,
    async signIn(tenantId = 'alpha') {
      const pkce = randomBytes(32).toString('base64url');
      const start = new URL(`${url}/v1/auth/oidc/dev/start`);
      start.searchParams.set('frontend_redirect_uri', REDIRECT_URI);
      start.searchParams.set('code_challenge', createHash('sha256').update(pkce).digest('base64url'));
      start.searchParams.set('code_challenge_method', 'S256');
      const started = await fetch(start, { headers: { 'X-Tenant-Id': tenantId }, redirect: 'manual' });
      if (started.status !== 302) throw new Error(`start answered ${started.status}: ${await started.text()}`);
      const providerReturn = await signInAt(started.headers.get('location')!, { username: 'ada', password: 'password' });
      const callback = await fetch(providerReturn, { redirect: 'manual' });
      const back = new URL(callback.headers.get('location') ?? '');
      const session = await fetch(`${url}/v1/auth/oidc/session`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-Tenant-Id': tenantId, 'Idempotency-Key': randomBytes(8).toString('hex') },
        body: JSON.stringify({ code: back.searchParams.get('code'), state: back.searchParams.get('state'), code_verifier: pkce, refresh_token_delivery: 'body' }),
      });
      if (session.status !== 201) throw new Error(`session answered ${session.status}: ${await session.text()}`);
      return ((await session.json()) as { access_token: string }).access_token;
    },
    async rotateSigningKey() {
      const before = server.keys.signingKey().kid;
      await rotateKeys('--kind', 'signing', '--activate-in', '0');
      const after = server.keys.signingKey().kid;
      if (after === before) throw new Error('the rotation did not change the signing key');
      return after;
    },
    async retireSigningKey(kid) {
      await rotateKeys('--retire', kid);
    },
    publishedKids,
    async close() {
      await server.close();
      await idp.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
