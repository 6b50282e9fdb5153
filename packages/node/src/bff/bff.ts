import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import type { CreateSessionRequest, ProviderInfo, Session, SessionGrant, User } from '@aimable/auth-openapi';
import { createClient, createConfig, type Client } from '@aimable/auth-openapi/fetch-client';
import * as sdk from '@aimable/auth-openapi/sdk';
import { isSameOriginRequest } from './csrf.js';
import { cookieNames, keyCookie, newOpaqueKey, readKeyCookie, type CookieNames } from './session-cookie.js';
import { memorySessionStore, type BffSessionStore } from './session-store.js';
import { SingleFlight } from './single-flight.js';

export interface BffOptions {
  /** Base URL of the Aimable Auth API, for example `http://localhost:8080`. */
  authUrl: string;
  /** The app's tenant. */
  tenantId: string;
  /** The tenant's API key (scope `refresh`). It is sent to the API only, never to the browser. */
  apiKey: string;
  /** The app's own origin, for example `https://app.example` (`http` only on `localhost`). Its callback, `{appUrl}{basePath}/callback`, must be on the tenant's redirect URIs. */
  appUrl: string;
  /** Where the BFF's routes live. Default: `/auth`. */
  basePath?: string;
  /** Where the tokens are kept. Default: this process's memory ({@link memorySessionStore}); share one store between processes. */
  store?: BffSessionStore;
  /** How long before the access token expires it is refreshed. Default: 60 seconds. */
  refreshLeewaySeconds?: number;
  /** Where sign-in sends the browser when the sign-in link names no `return_to`. Default: `/`. */
  afterSignInPath?: string;
  /** Where sign-out sends the browser. Default: `/`. */
  afterSignOutPath?: string;
  /** Where a failed sign-in sends the browser, with `auth_error` in the query. Default: `/`. */
  errorPath?: string;
  /** Fetch implementation for the calls to the API. Default: `globalThis.fetch`. */
  fetch?: typeof fetch;
  /** The clock, in milliseconds since the epoch. Default: `Date.now`. */
  now?: () => number;
}

/** A signed-in user as server code sees it: the user, the session, and an access token valid for at least the leeway. */
export interface BffSession {
  user: User;
  session: Session;
  /** For calls to your APIs from the server. Never send it to the browser. */
  accessToken: string;
  /** When `accessToken` expires, in milliseconds since the epoch. */
  accessTokenExpiresAt: number;
}

/** What `getSession` reads the session cookie from: a Fetch `Request`, its `Headers` (Next.js `headers()`), or a Node request. */
export type SessionSource = Request | Headers | { headers: { cookie?: string | string[] | undefined } };

/**
 * `auth_unavailable`: the API could not be reached or answered a server
 * error while a token had to be refreshed. `invalid_configuration`: an
 * option is wrong; the message names it.
 */
export class BffError extends Error {
  override readonly name = 'BffError';
  constructor(
    readonly code: 'auth_unavailable' | 'invalid_configuration',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface Bff {
  /** The BFF's routes, for a catch-all route (`app/auth/[...aimable]/route.ts`: `export const GET = bff.handler, POST = bff.handler`). */
  handler(request: Request): Promise<Response>;
  /** The signed-in user and a valid access token, refreshed first when it nears expiry; `undefined` when signed out. Writes no cookie. */
  getSession(source: SessionSource): Promise<BffSession | undefined>;
  /** The tenant's providers, for a sign-in button each. */
  providers(): Promise<ProviderInfo[]>;
  /** The href that starts a sign-in with `provider`, returning to `returnTo` (a path of the app). */
  signInHref(provider: string, returnTo?: string): string;
  /** The path the sign-out form posts to. */
  readonly signOutPath: string;
  /** The name of the session cookie, for a middleware that only checks it is there. */
  readonly sessionCookieName: string;
}

/** A sign-in under way: kept server-side, found by the login cookie. */
interface LoginRecord {
  state: string;
  verifier: string;
  returnTo: string;
}

/** A signed-in session: kept server-side, found by the session cookie. */
interface SessionRecord {
  accessToken: string;
  accessTokenExpiresAt: number;
  refreshToken: string;
  user: User;
  session: Session;
  /**
   * The `Idempotency-Key` of a refresh of `refreshToken` that was sent but
   * not answered yet. Saved before the call, so that every retry, in this
   * process or another, asks for the same rotation: the server replays the
   * grant it already issued instead of seeing the retired token again and
   * revoking the session (RFC 9700 §4.14.2).
   */
  pendingRefreshKey?: string;
}

/**
 * What sign-out leaves under the session's key for a while: read as no
 * session, and never overwritten by a refresh that was in flight when the
 * user signed out, which would otherwise bring the session back.
 */
const SIGNED_OUT = 'signed-out';
/** Longer than any refresh can be in flight: its attempts, timeouts and pauses. */
const SIGNED_OUT_TTL_MS = 60_000;
/**
 * A refresh is tried this often, each attempt given this long: all of them
 * end within the server's default reuse grace window (10 s), within which a
 * replay of the same `Idempotency-Key` is still answered with the grant.
 */
const REFRESH_ATTEMPTS = 3;
const REFRESH_TIMEOUT_MS = 3_000;

const LOGIN_TTL_MS = 10 * 60_000;
const PROVIDER_SHAPE = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * The backend-for-frontend of a server-rendered app (RFC draft "OAuth 2.0
 * for Browser-Based Applications", §6.1). The app's server signs the user
 * in (PKCE and `state` kept server-side), holds the access and refresh
 * tokens, refreshes them, and signs out; the browser holds one HttpOnly
 * cookie with an opaque key.
 *
 * Tokens are kept in a server-side store, not sealed into the cookie: a
 * Next.js Server Component may read cookies but not write them, so a token
 * rotated while a page renders could not be handed back to the browser,
 * and the next request would present the retired token. With the tokens in
 * the store, a refresh anywhere is saved where every later request finds
 * it, and the cookie never changes while the session lives.
 */
export function createBff(options: BffOptions): Bff {
  const config = checkOptions(options);
  const { basePath, appOrigin, secure } = config;
  const now = options.now ?? Date.now;
  const store = options.store ?? memorySessionStore({ now });
  const names: CookieNames = cookieNames(secure);
  const leewayMs = (options.refreshLeewaySeconds ?? 60) * 1000;
  const callbackUri = `${appOrigin}${basePath}/callback`;
  const refreshes = new SingleFlight<SessionRecord | undefined>();
  const client: Client = createClient(
    createConfig({
      baseUrl: options.authUrl.replace(/\/+$/, ''),
      fetch: options.fetch,
      headers: { Accept: 'application/json, application/problem+json;q=0.9' },
      auth: (scheme) => (scheme.type === 'apiKey' ? options.apiKey : undefined),
    }),
  );

  const sessionKey = (key: string) => `aimable:session:${digest(key)}`;
  const loginKey = (key: string) => `aimable:login:${digest(key)}`;

  async function loadSession(key: string): Promise<SessionRecord | undefined> {
    const stored = await store.get(sessionKey(key));
    return stored === undefined || stored === SIGNED_OUT ? undefined : (JSON.parse(stored) as SessionRecord);
  }

  function recordOf(grant: SessionGrant): SessionRecord {
    if (!grant.refresh_token) throw new BffError('auth_unavailable', 'the grant carries no refresh token');
    return {
      accessToken: grant.access_token,
      accessTokenExpiresAt: now() + grant.expires_in * 1000,
      refreshToken: grant.refresh_token,
      user: grant.user,
      session: grant.session,
    };
  }

  async function writeSession(key: string, record: SessionRecord): Promise<SessionRecord> {
    await store.set(sessionKey(key), JSON.stringify(record), sessionLifetimeMs(record.session, now()));
    return record;
  }

  /**
   * Writes a record of a session that already exists, unless it ended since
   * it was read: signed out (the marker is there) or refused elsewhere (the
   * key is gone). The store offers no compare-and-set, so a sign-out may
   * still fall between this read and the write; the window is that short
   * gap, not the whole call to the API.
   */
  async function updateSession(key: string, record: SessionRecord): Promise<SessionRecord | undefined> {
    if (!(await loadSession(key))) return undefined;
    return writeSession(key, record);
  }

  const isFresh = (record: SessionRecord) => record.accessTokenExpiresAt - now() > leewayMs;

  /**
   * The session with an access token valid beyond the leeway. However many
   * requests of one session arrive at once, this process sends one refresh:
   * the others wait for its result. Processes that share the store may each
   * send one at the same moment; the server answers the retired token within
   * its reuse grace window with the grant it already issued, so they all
   * store the same tokens and none trips reuse detection.
   */
  async function currentSession(key: string): Promise<SessionRecord | undefined> {
    const record = await loadSession(key);
    if (!record || isFresh(record)) return record;
    return refreshes.run(key, () => refreshSession(key));
  }

  async function refreshSession(key: string): Promise<SessionRecord | undefined> {
    // Read again: a refresh that ended just before this one began has already stored new tokens.
    let record = await loadSession(key);
    if (!record || isFresh(record)) return record;
    if (record.pendingRefreshKey === undefined) {
      record = await updateSession(key, { ...record, pendingRefreshKey: randomUUID() });
      if (!record) return undefined;
    }
    const presented = record.refreshToken;
    const headers = { 'Idempotency-Key': record.pendingRefreshKey! };
    let failure: unknown;
    for (let attempt = 1; attempt <= REFRESH_ATTEMPTS; attempt++) {
      if (attempt > 1) await new Promise((resolve) => setTimeout(resolve, 250 * (attempt - 1)));
      let result;
      try {
        result = await sdk.refreshSession({ client, body: { refresh_token: presented }, headers, signal: AbortSignal.timeout(REFRESH_TIMEOUT_MS) });
      } catch (cause) {
        failure = cause;
        continue;
      }
      if (result.data) return updateSession(key, recordOf(result.data));
      const status = result.response?.status;
      // 401: expired, revoked or reused; the refresh token will never work again.
      if (status === 401) return forgetRefused(key, presented);
      failure = result.error;
      // 409: the same refresh is still running on the server. A server error or no answer may pass too.
      if (status !== undefined && status !== 409 && status < 500) break;
    }
    return keepWhileValid(record, failure);
  }

  /** After a 401, unless another process has stored newer tokens meanwhile: those are not the refused ones. */
  async function forgetRefused(key: string, presented: string): Promise<SessionRecord | undefined> {
    const current = await loadSession(key);
    if (current && current.refreshToken !== presented) return current;
    await store.delete(sessionKey(key));
    return undefined;
  }

  /** A refresh that failed for a passing reason: the current token serves while it lasts. */
  function keepWhileValid(record: SessionRecord, cause: unknown): SessionRecord {
    if (record.accessTokenExpiresAt > now()) return record;
    throw new BffError('auth_unavailable', 'the access token expired and the Aimable Auth API could not refresh it', { cause });
  }

  /**
   * Revokes the session on the server, then forgets it here. Best effort on
   * the server: the tokens are gone from here either way. The marker left
   * in their place keeps a refresh still in flight from storing them again.
   */
  async function endSession(key: string): Promise<void> {
    const record = await currentSession(key).catch(() => loadSession(key));
    if (record) await sdk.logout({ client, auth: record.accessToken }).catch(() => undefined);
    await store.set(sessionKey(key), SIGNED_OUT, SIGNED_OUT_TTL_MS);
  }

  async function startSignIn(request: Request, provider: string): Promise<Response> {
    if (!PROVIDER_SHAPE.test(provider)) return problem(404, 'unknown_provider', 'There is no such provider.');
    const returnTo = safeReturnPath(new URL(request.url).searchParams.get('return_to')) ?? config.afterSignInPath;
    const verifier = newOpaqueKey();
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    const started = await sdk
      .startOidcLogin({
        client,
        path: { provider },
        headers: { 'X-Tenant-Id': options.tenantId },
        query: { frontend_redirect_uri: callbackUri, code_challenge: challenge, code_challenge_method: 'S256' },
      })
      .catch(() => undefined);
    if (!started?.data) {
      if (started?.response?.status === 404) return problem(404, 'unknown_provider', 'There is no such provider.');
      return problem(502, 'auth_unavailable', 'The sign-in could not be started.');
    }
    const loginCookieKey = newOpaqueKey();
    const login: LoginRecord = { state: started.data.state, verifier, returnTo };
    await store.set(loginKey(loginCookieKey), JSON.stringify(login), LOGIN_TTL_MS);
    return redirect(started.data.authorization_url, [keyCookie(names.login, loginCookieKey, { secure, maxAgeSeconds: LOGIN_TTL_MS / 1000 })]);
  }

  async function finishSignIn(request: Request): Promise<Response> {
    const query = new URL(request.url).searchParams;
    const clearLogin = keyCookie(names.login, '', { secure, maxAgeSeconds: 0 });
    const failed = (code: string) => redirect(withQuery(config.errorPath, { auth_error: code }), [clearLogin]);
    const loginCookieKey = readKeyCookie(request.headers.get('cookie'), names.login);
    const stored = loginCookieKey === undefined ? undefined : await store.get(loginKey(loginCookieKey));
    // RFC 6749 §10.12: the callback must carry the state this browser's sign-in began with, or it is someone else's login.
    const state = query.get('state');
    const login = stored === undefined ? undefined : (JSON.parse(stored) as LoginRecord);
    if (!login || state === null || !sameText(state, login.state)) return failed('invalid_state');
    await store.delete(loginKey(loginCookieKey!));
    const code = query.get('code');
    if (code === null) return failed(query.get('error') ?? 'invalid_request');

    const grant = await createSessionOnce({ code, state, code_verifier: login.verifier, refresh_token_delivery: 'body' });
    if (!grant) return failed('sign_in_failed');
    const previous = readKeyCookie(request.headers.get('cookie'), names.session);
    if (previous !== undefined) await endSession(previous);
    const key = newOpaqueKey();
    await writeSession(key, recordOf(grant));
    const maxAgeSeconds = sessionLifetimeMs(grant.session, now()) / 1000;
    return redirect(login.returnTo, [clearLogin, keyCookie(names.session, key, { secure, maxAgeSeconds })]);
  }

  /** Creates the session; a lost answer or a busy server is retried with the same `Idempotency-Key`, so one session is made. */
  async function createSessionOnce(body: CreateSessionRequest): Promise<SessionGrant | undefined> {
    const idempotencyKey = randomUUID();
    for (let attempt = 1; ; attempt++) {
      const result = await sdk.createSession({ client, body, headers: { 'Idempotency-Key': idempotencyKey } }).catch(() => undefined);
      if (result?.data) return result.data;
      const status = result?.response?.status;
      const retryable = status === undefined || status === 409 || status >= 500;
      if (!retryable || attempt === 3) return undefined;
      await new Promise((resolve) => setTimeout(resolve, 250 * attempt));
    }
  }

  async function signOut(request: Request): Promise<Response> {
    if (!isSameOriginRequest(request, appOrigin)) return problem(403, 'csrf_refused', 'Sign-out must come from a page of this app.');
    const key = readKeyCookie(request.headers.get('cookie'), names.session);
    if (key !== undefined) await endSession(key);
    return redirect(config.afterSignOutPath, [keyCookie(names.session, '', { secure, maxAgeSeconds: 0 })]);
  }

  async function getSession(source: SessionSource): Promise<BffSession | undefined> {
    const key = readKeyCookie(cookieHeaderOf(source), names.session);
    if (key === undefined) return undefined;
    const record = await currentSession(key);
    if (!record) return undefined;
    return { user: record.user, session: record.session, accessToken: record.accessToken, accessTokenExpiresAt: record.accessTokenExpiresAt };
  }

  async function handler(request: Request): Promise<Response> {
    const path = new URL(request.url).pathname;
    if (!path.startsWith(`${basePath}/`)) return problem(404, 'not_found', 'Not found.');
    const route = path.slice(basePath.length + 1).split('/');
    const [name, argument, ...rest] = route;
    const allow = (method: string, run: () => Promise<Response>) => (request.method === method ? run() : problem(405, 'method_not_allowed', `Use ${method}.`, { Allow: method }));
    if (name === 'sign-in' && argument !== undefined && rest.length === 0) return allow('GET', () => startSignIn(request, decodeURIComponent(argument)));
    if (route.length === 1 && name === 'callback') return allow('GET', () => finishSignIn(request));
    if (route.length === 1 && name === 'sign-out') return allow('POST', () => signOut(request));
    if (route.length === 1 && name === 'session') {
      return allow('GET', async () => {
        const session = await getSession(request);
        // The user, for the browser's own scripts: never a token.
        return session ? json(200, { user: session.user, session: session.session }) : problem(401, 'signed_out', 'Not signed in.');
      });
    }
    return problem(404, 'not_found', 'Not found.');
  }

  async function providers(): Promise<ProviderInfo[]> {
    const result = await sdk.listProviders({ client, headers: { 'X-Tenant-Id': options.tenantId } }).catch((cause: unknown) => {
      throw new BffError('auth_unavailable', 'the providers could not be listed', { cause });
    });
    if (!result.data) throw new BffError('auth_unavailable', `the providers could not be listed: ${result.response?.status ?? 'no answer'}`);
    return result.data.data;
  }

  return {
    handler: (request) =>
      handler(request).catch((error: unknown) => {
        if (error instanceof BffError) return problem(503, error.code, 'The sign-in service is unavailable.');
        throw error;
      }),
    getSession,
    providers,
    signInHref: (provider, returnTo) => withQuery(`${basePath}/sign-in/${encodeURIComponent(provider)}`, returnTo === undefined ? {} : { return_to: returnTo }),
    signOutPath: `${basePath}/sign-out`,
    sessionCookieName: names.session,
  };
}

interface CheckedOptions {
  basePath: string;
  appOrigin: string;
  secure: boolean;
  afterSignInPath: string;
  afterSignOutPath: string;
  errorPath: string;
}

function checkOptions(options: BffOptions): CheckedOptions {
  const invalid = (message: string) => new BffError('invalid_configuration', message);
  let app: URL;
  try {
    app = new URL(options.appUrl);
  } catch {
    throw invalid('appUrl must be an absolute URL');
  }
  const local = app.hostname === 'localhost' || app.hostname === '127.0.0.1' || app.hostname === '[::1]';
  if (app.protocol !== 'https:' && !(local && app.protocol === 'http:')) throw invalid('appUrl must be an https URL (http only on localhost)');
  for (const name of ['authUrl', 'tenantId', 'apiKey'] as const) if (!options[name]) throw invalid(`${name} is required`);
  const basePath = (options.basePath ?? '/auth').replace(/\/+$/, '');
  if (!/^\/[A-Za-z0-9/_-]*$/.test(basePath)) throw invalid('basePath must be a path that starts with /');
  const path = (name: 'afterSignInPath' | 'afterSignOutPath' | 'errorPath') => {
    const value = options[name] ?? '/';
    if (safeReturnPath(value) === undefined) throw invalid(`${name} must be a path of the app that starts with /`);
    return value;
  };
  return {
    basePath,
    appOrigin: app.origin,
    // Plain http is allowed on localhost only, where a Secure cookie is not kept by every browser.
    secure: app.protocol === 'https:',
    afterSignInPath: path('afterSignInPath'),
    afterSignOutPath: path('afterSignOutPath'),
    errorPath: path('errorPath'),
  };
}

/** A path of this app, never another origin: `//evil.example` and `/\evil.example` are refused (open redirect, RFC 9700 §4.11). */
function safeReturnPath(value: string | null): string | undefined {
  if (value === null || !value.startsWith('/') || value.startsWith('//') || value.startsWith('/\\')) return undefined;
  return /[\u0000-\u001f]/.test(value) ? undefined : value;
}

/** Until the session's idle or absolute expiry, whichever comes first. */
function sessionLifetimeMs(session: Session, at: number): number {
  return Math.max(1000, Math.min(Date.parse(session.expires_at), Date.parse(session.idle_expires_at)) - at);
}

function cookieHeaderOf(source: SessionSource): string | null {
  if (source instanceof Request) return source.headers.get('cookie');
  if (source instanceof Headers) return source.get('cookie');
  const cookie = source.headers.cookie;
  return Array.isArray(cookie) ? cookie.join('; ') : (cookie ?? null);
}

function digest(value: string): string {
  return createHash('sha256').update(value).digest('base64url');
}

function sameText(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

function withQuery(path: string, query: Record<string, string>): string {
  const search = new URLSearchParams(query).toString();
  return search ? `${path}${path.includes('?') ? '&' : '?'}${search}` : path;
}

function redirect(location: string, cookies: string[]): Response {
  const headers = new Headers({ Location: location, 'Cache-Control': 'no-store' });
  for (const cookie of cookies) headers.append('Set-Cookie', cookie);
  return new Response(null, { status: 303, headers });
}

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' } });
}

function problem(status: number, code: string, detail: string, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify({ type: 'about:blank', title: detail, status, code }), {
    status,
    headers: { 'Content-Type': 'application/problem+json', 'Cache-Control': 'no-store', ...headers },
  });
}
