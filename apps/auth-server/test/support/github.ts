import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { githubAccountsOf, githubEdgeAccounts, startDevIdp, TEST_USERS, type GithubAccount, type GithubFaults } from '@aimable/dev-idp';
import { freePort } from '@aimable/testing';
import { startServer } from '../../src/server.js';
import { startUrl, testServerConfig, type Harness, type TestConfig } from './harness.js';
import { CLIENT_SECRET, twoTenants } from './tenants.js';

export const GITHUB_CLIENT_ID = 'Ov23liGithubTest';

export interface GithubHarness extends Harness {
  /** The fake's accounts: change one (rename a login) and the fake answers accordingly. */
  accounts: GithubAccount[];
  /** Switch a misbehaviour of the fake on or off. */
  faults: GithubFaults;
}

/**
 * The real server and dev-idp serving its fake of GitHub, over loopback
 * HTTP. Tenant `alpha` has provider `github` (and beta its usual `dev`).
 */
export async function startGithubHarness(options: { config?: TestConfig } = {}): Promise<GithubHarness> {
  const dataDir = mkdtempSync(join(tmpdir(), 'aimable-auth-github-'));
  const port = await freePort();
  const publicUrl = `http://localhost:${port}`;
  const accounts = [...githubAccountsOf(TEST_USERS), ...githubEdgeAccounts()];
  const faults: GithubFaults = {};
  const idp = await startDevIdp({
    port: 0,
    clients: [{ client_id: 'aimable-test', client_secret: CLIENT_SECRET, redirect_uris: [`${publicUrl}/v1/auth/oidc/dev/callback`] }],
    fakes: { github: { clients: [{ client_id: GITHUB_CLIENT_ID, client_secret: CLIENT_SECRET, redirect_uris: [`${publicUrl}/v1/auth/oidc/github/callback`] }], accounts, faults } },
  });
  const github = {
    type: 'github',
    display_name: 'GitHub',
    client_id: GITHUB_CLIENT_ID,
    client_secret_env: 'TEST_CLIENT_SECRET',
    base_url: `${idp.issuer}/github`,
    api_url: `${idp.issuer}/github/api`,
    allow_insecure_http: true,
  } as const;
  const config = testServerConfig(port, dataDir, twoTenants(idp.issuer, { alpha: { providers: { github } } }), options.config);
  const logs: string[] = [];
  const server = await startServer({ config, logDestination: { write: (line: string) => void logs.push(line) } });
  return {
    server,
    idp,
    url: publicUrl,
    logs,
    dataDir,
    config,
    accounts,
    faults,
    close: async () => {
      await server.close();
      await idp.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** The account a test user is at the fake. */
export function accountOf(h: GithubHarness, login: string): GithubAccount {
  const account = h.accounts.find((candidate) => candidate.login === login);
  if (!account) throw new Error(`the fake has no account ${login}`);
  return account;
}

/**
 * Start → the fake's sign-in page → the account's button → callback: what
 * the frontend receives on its redirect URI. `authorizationUrl` is what
 * the server sent the browser to.
 */
export async function loginThroughGithub(h: GithubHarness, account: GithubAccount): Promise<{ code: string; state: string; verifier: string; authorizationUrl: URL }> {
  const { url: start, verifier } = startUrl(h, { provider: 'github' });
  const started = await fetch(start, { headers: { 'X-Tenant-Id': 'alpha' }, redirect: 'manual' });
  if (started.status !== 302) throw new Error(`start answered ${started.status}: ${await started.text()}`);
  const authorizationUrl = new URL(started.headers.get('location')!);
  const page = await fetch(authorizationUrl);
  if (page.status !== 200) throw new Error(`the fake's sign-in page answered ${page.status}: ${await page.text()}`);
  const form = new URLSearchParams(authorizationUrl.searchParams);
  form.set('account', String(account.id));
  const signedIn = await fetch(authorizationUrl.origin + authorizationUrl.pathname, { method: 'POST', body: form, redirect: 'manual' });
  if (signedIn.status !== 302) throw new Error(`the fake's sign-in answered ${signedIn.status}: ${await signedIn.text()}`);
  const callback = await fetch(signedIn.headers.get('location')!, { redirect: 'manual' });
  if (callback.status !== 302) throw new Error(`callback answered ${callback.status}: ${await callback.text()}`);
  const back = new URL(callback.headers.get('location')!);
  const code = back.searchParams.get('code');
  const state = back.searchParams.get('state');
  if (!code || !state) throw new Error(`callback redirected without code: ${back.href}`);
  return { code, state, verifier, authorizationUrl };
}
