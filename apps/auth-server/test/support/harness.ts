import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuthApiError, createAuthClient, type AuthClient } from '@aimable/auth-client';
import { signInAt, startDevIdp, type CookieJar, type DevIdpOptions, type RunningDevIdp } from '@aimable/dev-idp';
import { freePort } from '@aimable/testing';
import { expect } from 'vitest';
import { buildServerConfig, type ServerConfig, type ServerConfigInput } from '../../src/config/server-config.js';
import { parseTenants, type RawTenantsFile } from '../../src/config/tenants.js';
import { startServer, type RunningServer } from '../../src/server.js';
import type { SyncLog } from '../../src/store/sqlite/group-commit.js';
import { API_KEY, CLIENT_SECRET, POST_LOGOUT_REDIRECT_URI, REDIRECT_URI, twoTenants } from './tenants.js';

/** A clock the test moves by hand. */
export class ManualClock {
  constructor(public current = Date.now()) {}
  now = () => this.current;
  advance(ms: number): void {
    this.current += ms;
  }
}

/** The settings tests may change; the tenants and the data directory are the harness's. */
export type TestConfig = Omit<Partial<ServerConfigInput>, 'tenants' | 'dataDir'>;

/** A server configuration for tests: loopback, a fresh data directory, limits out of the way, responses validated. */
export function testServerConfig(port: number, dataDir: string, tenants: RawTenantsFile, overrides: TestConfig = {}, env: Record<string, string> = {}): ServerConfig {
  const unlimited = { points: 100_000, globalPoints: 1_000_000 };
  return buildServerConfig({
    port,
    host: '127.0.0.1',
    dataDir,
    validateResponses: true,
    providerTimeoutSeconds: 5,
    tenants: parseTenants(tenants, { TEST_CLIENT_SECRET: CLIENT_SECRET, ...env }),
    ...overrides,
    rateLimits: { start: unlimited, session: unlimited, refresh: unlimited, api: unlimited, ...overrides.rateLimits },
  });
}

export interface HarnessOptions {
  clock?: ManualClock;
  tenants?: (issuer: string) => RawTenantsFile;
  config?: TestConfig;
  /** Use this issuer instead of starting the local identity provider. */
  issuer?: string;
  /** Stands in for the disk under SQLite's write-ahead log. */
  syncLog?: SyncLog;
  /** The data directory, instead of a fresh temporary one (a small file system of the test's own, say); removed at close. */
  dataDir?: string;
  /** Environment variables the tenants file may name, besides TEST_CLIENT_SECRET. */
  env?: Record<string, string>;
  /** The local identity provider's options, instead of its one client `aimable-test`; given the server's public URL. */
  idp?: (publicUrl: string) => Omit<DevIdpOptions, 'port'>;
}

export interface Harness {
  server: RunningServer;
  idp: RunningDevIdp | undefined;
  url: string;
  logs: string[];
  dataDir: string;
  config: ServerConfig;
  close(): Promise<void>;
}

/** The real server on a fresh database, with the real local identity provider, over loopback HTTP. */
export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'aimable-auth-test-'));
  const port = await freePort();
  const publicUrl = `http://localhost:${port}`;
  const idp = options.issuer
    ? undefined
    : await startDevIdp({
        port: 0,
        ...(options.idp?.(publicUrl) ?? {
          clients: [
            {
              client_id: 'aimable-test',
              client_secret: CLIENT_SECRET,
              // `google`: the provider the contract's examples name.
              redirect_uris: [`${publicUrl}/v1/auth/oidc/dev/callback`, `${publicUrl}/v1/auth/oidc/other/callback`, `${publicUrl}/v1/auth/oidc/google/callback`],
              post_logout_redirect_uris: [POST_LOGOUT_REDIRECT_URI],
              // One client serves both tenants' `dev` provider: the provider's sign-outs reach alpha's sessions.
              backchannel_logout_uri: `${publicUrl}/v1/auth/oidc/dev/backchannel-logout?tenant=alpha`,
            },
          ],
        }),
      });
  const issuer = options.issuer ?? idp!.issuer;
  const config = testServerConfig(port, dataDir, (options.tenants ?? twoTenants)(issuer), options.config, options.env);
  const logs: string[] = [];
  const server = await startServer({
    config,
    clock: options.clock,
    ...(options.syncLog ? { syncLog: options.syncLog } : {}),
    logDestination: { write: (line: string) => void logs.push(line) },
  });
  return {
    server,
    idp,
    url: publicUrl,
    logs,
    dataDir,
    config,
    close: async () => {
      await server.close();
      await idp?.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

export interface StartOptions {
  tenant?: string;
  provider?: string;
  redirectUri?: string;
  /** The frontend's S256 challenge; `null` leaves it out. Default: a fresh one. */
  challenge?: string | null;
}

/** The start URL of a login, with a fresh PKCE pair unless told otherwise; the tenant goes in the header. */
export function startUrl(h: Harness, options: StartOptions = {}): { url: URL; verifier: string } {
  const pair = pkcePair();
  const url = new URL(`${h.url}/v1/auth/oidc/${options.provider ?? 'dev'}/start`);
  url.searchParams.set('frontend_redirect_uri', options.redirectUri ?? REDIRECT_URI);
  const challenge = options.challenge === undefined ? pair.challenge : options.challenge;
  if (challenge !== null) {
    url.searchParams.set('code_challenge', challenge);
    url.searchParams.set('code_challenge_method', 'S256');
  }
  return { url, verifier: pair.verifier };
}

/** Starts a login as a SPA does (the JSON variant): the authorization URL, the state, and the verifier kept for later. */
export async function startJson(h: Harness, options: StartOptions = {}): Promise<{ authorizationUrl: string; state: string; expiresAt: string; verifier: string }> {
  const { url, verifier } = startUrl(h, options);
  const response = await fetch(url, { headers: { 'X-Tenant-Id': options.tenant ?? 'alpha', Accept: 'application/json' } });
  if (response.status !== 200) throw new Error(`start answered ${response.status}: ${await response.text()}`);
  const body = (await response.json()) as { authorization_url: string; state: string; expires_at: string };
  return { authorizationUrl: body.authorization_url, state: body.state, expiresAt: body.expires_at, verifier };
}

export interface LoginResult {
  code: string;
  state: string;
  verifier: string;
  /** Everything secret the flow handled, to look for in logs. */
  secrets: string[];
}

/** Start → the provider's login page over HTTP → callback: what the frontend receives on its redirect URI. */
export async function loginThroughProvider(
  h: Harness,
  options: { tenant?: string; provider?: string; username?: string; redirectUri?: string; cookies?: CookieJar } = {},
): Promise<LoginResult> {
  const { url: start, verifier } = startUrl(h, options);
  const started = await fetch(start, { headers: { 'X-Tenant-Id': options.tenant ?? 'alpha' }, redirect: 'manual' });
  if (started.status !== 302) throw new Error(`start answered ${started.status}: ${await started.text()}`);
  const providerReturn = await signInAt(started.headers.get('location')!, { username: options.username ?? 'ada', password: 'password' }, { cookies: options.cookies });
  const callback = await fetch(providerReturn, { redirect: 'manual' });
  if (callback.status !== 302) throw new Error(`callback answered ${callback.status}: ${await callback.text()}`);
  const back = new URL(callback.headers.get('location')!);
  const code = back.searchParams.get('code');
  const state = back.searchParams.get('state');
  if (!code || !state) throw new Error(`callback redirected without code: ${back.href}`);
  return { code, state, verifier, secrets: [code, state, verifier] };
}

export async function postSession(
  h: Harness,
  body: Record<string, unknown>,
  options: { tenant?: string; key?: string; headers?: Record<string, string> } = {},
): Promise<Response> {
  return fetch(`${h.url}/v1/auth/oidc/session`, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      'X-Tenant-Id': options.tenant ?? 'alpha',
      'Idempotency-Key': options.key ?? randomBytes(8).toString('hex'),
      ...options.headers,
    },
    body: JSON.stringify(body),
  });
}

const refreshCookieName = (tenant: string) => `__Host-aimable_refresh_${tenant}`;

/** The `Cookie` header of a browser that holds this refresh token in the tenant's refresh cookie. */
export function refreshCookie(refreshToken: string, tenant = 'alpha'): string {
  return `${refreshCookieName(tenant)}=${refreshToken}`;
}

/** The refresh token a response sets in the tenant's refresh cookie; throws when it sets none, or clears it. */
export function refreshCookieOf(response: Response, tenant = 'alpha'): string {
  const prefix = `${refreshCookieName(tenant)}=`;
  const token = response.headers
    .getSetCookie()
    .find((cookie) => cookie.startsWith(prefix))
    ?.slice(prefix.length)
    .split(';')[0];
  if (!token) throw new Error(`the response sets no refresh token in ${refreshCookieName(tenant)}: ${response.headers.get('set-cookie')}`);
  return token;
}

export async function refresh(h: Harness, refreshToken: string, options: { apiKey?: string; key?: string; viaCookie?: boolean } = {}): Promise<Response> {
  const headers: Record<string, string> = { 'X-API-Key': options.apiKey ?? API_KEY };
  if (options.key) headers['Idempotency-Key'] = options.key;
  if (options.viaCookie) {
    headers.Cookie = refreshCookie(refreshToken);
    return fetch(`${h.url}/v1/refresh`, { method: 'POST', headers });
  }
  headers['Content-Type'] = 'application/json';
  return fetch(`${h.url}/v1/refresh`, { method: 'POST', headers, body: JSON.stringify({ refresh_token: refreshToken }) });
}

export interface Grant {
  access_token: string;
  refresh_token?: string;
  session: { id: string };
  user: { id: string; email: string | null };
}

/** The grant of a refresh that must have succeeded. */
export async function grantOf(response: Response): Promise<{ refresh_token: string; access_token: string; session: { id: string; idle_expires_at: string } }> {
  expect(response.status).toBe(200);
  return (await response.json()) as never;
}

/** A full login that ends in a session whose refresh token is delivered in the body. */
export async function signIn(
  h: Harness,
  options: { tenant?: string; username?: string; provider?: string; redirectUri?: string; cookies?: CookieJar } = {},
): Promise<Grant & { refresh_token: string }> {
  const login = await loginThroughProvider(h, options);
  const response = await postSession(h, { code: login.code, state: login.state, code_verifier: login.verifier, refresh_token_delivery: 'body' }, { tenant: options.tenant });
  if (response.status !== 201) throw new Error(`session answered ${response.status}: ${await response.text()}`);
  return (await response.json()) as Grant & { refresh_token: string };
}

/** The value of the metric line that starts with `line` (name and labels) in a scrape of the harness's metrics listener; 0 when absent. */
export async function metricValue(h: Harness, line: string): Promise<number> {
  const scrape = await (await fetch(h.server.metricsUrl!)).text();
  const found = scrape.split('\n').find((text) => text.startsWith(line));
  return found === undefined ? 0 : Number(found.slice(line.length).trim());
}

export async function problemCode(response: Response): Promise<string> {
  const body = (await response.json()) as { code?: string };
  return body.code ?? `(no code, status ${response.status})`;
}

/** Start (JSON) → the fake provider approves → callback: the code and state the frontend receives. */
export async function loginThroughFake(h: Harness, fake: { authorize(url: string): string; issuer: string }): Promise<LoginResult> {
  const { authorizationUrl, state, verifier } = await startJson(h);
  const code = fake.authorize(authorizationUrl);
  const callback = await fetch(`${h.url}/v1/auth/oidc/dev/callback?code=${code}&state=${state}&iss=${encodeURIComponent(fake.issuer)}`, { redirect: 'manual' });
  const back = new URL(callback.headers.get('location')!);
  return { code: back.searchParams.get('code')!, state: back.searchParams.get('state')!, verifier, secrets: [code, state, verifier] };
}

/** The project's typed client on the harness's server: what tests use unless they are about malformed HTTP. */
export function apiClient(h: Harness, options: { tenant?: string; accessToken?: string; apiKey?: string } = {}): AuthClient {
  return createAuthClient({ baseUrl: h.url, tenantId: options.tenant, accessToken: options.accessToken, apiKey: options.apiKey });
}

/** The error a client call failed with (the call is expected to fail). */
export async function failure(call: Promise<unknown>): Promise<AuthApiError> {
  const error = await call.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  if (!(error instanceof AuthApiError)) throw new Error(`expected an AuthApiError, got ${String(error)}`);
  return error;
}
