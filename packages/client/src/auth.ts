import type { CurrentSession, ProviderList, SessionGrant } from '@aimable/auth-openapi';
import * as sdk from '@aimable/auth-openapi/unbound-sdk';
import { AuthApiError, isAuthApiError, type OperationId } from './errors.js';
import { createLeanClient, type CallOutcome } from './lean-client.js';
import { browserSessionStorage, memoryStorage, type AuthStorage } from './storage.js';

export { browserSessionStorage, memoryStorage, type AuthStorage } from './storage.js';

/** What sign-in needs to know. */
export interface AuthOptions {
  /** Base URL of the API, for example `http://localhost:8080`. */
  baseUrl: string;
  /** The tenant, sent as `X-Tenant-Id`. */
  tenantId: string;
  /** The tenant's client key, sent as `X-API-Key` on refresh. */
  apiKey: string;
  /**
   * Where the logins in progress (state, PKCE verifier) are kept, and, with
   * `refreshTokenDelivery: 'body'`, the refresh token. Default:
   * `sessionStorage` in a browser, memory elsewhere.
   */
  storage?: AuthStorage;
  /**
   * How the refresh token travels: `cookie` (an HttpOnly cookie scripts never
   * see; the default in a browser) or `body` (kept in `storage`; the default
   * elsewhere, where fetch keeps no cookies).
   */
  refreshTokenDelivery?: 'cookie' | 'body';
  /** Opens the provider's login page, and its sign-out page. Default: `location.assign`. */
  navigate?: (url: string) => void;
  /** Fetch implementation. Default: `globalThis.fetch`. */
  fetch?: typeof fetch;
  /** How many times a session creation is tried, with the same `Idempotency-Key`. Default: 4. */
  attempts?: number;
}

/** A signed-in user's session, as the last grant described it. */
export interface AuthSession {
  accessToken: string;
  /** When the access token expires, in milliseconds since the epoch. */
  expiresAt: number;
  session: SessionGrant['session'];
  user: SessionGrant['user'];
}

/** How far a sign-out reaches. */
export interface SignOutOptions {
  /**
   * Sign out at the identity provider too (OpenID Connect RP-Initiated
   * Logout): the server answers the provider's end-session URL, and in a
   * browser the page goes there (through `navigate`). Otherwise the
   * provider's session lives on, and the next sign-in goes straight through.
   */
  provider?: boolean;
  /** Where the provider sends the browser afterwards: one of the tenant's post-logout URIs, such as `${location.origin}/`. */
  postLogoutRedirectUri?: string;
}

/** What a sign-out answered: the provider's end-session URL, for a caller that opens it itself; null when there is none. */
export interface SignOutResult {
  providerLogoutUrl: string | null;
}

export type AuthEvent = 'signed_in' | 'token_refreshed' | 'signed_out';
export type AuthListener = (event: AuthEvent, session: AuthSession | undefined) => void;

/** A sign-in that went wrong before the API was asked: a callback this app did not start, or a provider's refusal. */
export class SignInError extends Error {
  override readonly name = 'SignInError';
  constructor(
    /** `unknown_state`: the callback's state is not one this app started (or it was used). `provider_error`: the provider refused; `error` is its RFC 6749 code. `no_callback`: the URL has no `code`, `state` or `error`. */
    readonly code: 'unknown_state' | 'provider_error' | 'no_callback' | 'signed_out' | 'unsafe_authorization_url',
    message: string,
    readonly error?: string,
  ) {
    super(message);
  }
}

export interface Auth {
  /** Starts a login (PKCE S256, the JSON form of start) and opens the provider's page. */
  signIn(provider: string, options: { redirectUri: string }): Promise<void>;
  /** Finishes the login the provider sent the browser back from, and cleans `code` and `state` from the address bar. */
  handleRedirectCallback(url?: string): Promise<AuthSession>;
  /** On page load: the session the refresh cookie (or stored token) still holds, if any. */
  restore(): Promise<AuthSession | undefined>;
  /**
   * Ends the session on the server, even with an expired access token, and
   * here; with `provider: true`, at the identity provider too.
   */
  signOut(options?: SignOutOptions): Promise<SignOutResult>;
  /** A new access token now: once, however many ask at the same time, in this tab or others. */
  refresh(): Promise<AuthSession>;
  /** The current session, if signed in. */
  readonly session: AuthSession | undefined;
  /** Reports `signed_in`, `token_refreshed` and `signed_out`; returns the unsubscribe. */
  onAuthStateChange(listener: AuthListener): () => void;
  /**
   * `fetch` with the bearer token: a `401` refreshes once and the call is
   * retried once. Pass it to `createAuthClient({ fetch: auth.fetch })`.
   */
  fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response>;
  /** The tenant's providers, for sign-in buttons. */
  providers(): Promise<ProviderList>;
  /** The session and user the access token belongs to. */
  currentSession(): Promise<CurrentSession>;
}

const PREFIX = 'aimable-auth:';
const REFRESH_KEY = `${PREFIX}refresh`;
/** The retryable answers of session creation: another attempt with the same key is running, or the provider or database did not answer. */
const RETRYABLE = new Set([409, 502, 503]);
/** Signs the user out: the session cannot be refreshed again. */
const SESSION_OVER = ['refresh_token_reused', 'session_expired', 'invalid_refresh_token'] as const;

/**
 * Sign-in for a single-page app (or a Node program) in a few lines:
 *
 * ```ts
 * const auth = createAuth({ baseUrl, tenantId: 'demo', apiKey });
 * await auth.restore();                                   // on load
 * button.onclick = () => auth.signIn('dev', { redirectUri: `${location.origin}/auth/callback` });
 * if (location.pathname === '/auth/callback') await auth.handleRedirectCallback();
 * ```
 */
export function createAuth(options: AuthOptions): Auth {
  const browser = typeof document !== 'undefined';
  const storage = options.storage ?? (browser ? browserSessionStorage() : memoryStorage());
  const delivery = options.refreshTokenDelivery ?? (browser ? 'cookie' : 'body');
  const body = delivery === 'body';
  const fetchImpl = options.fetch ?? ((input: RequestInfo | URL, init?: RequestInit) => globalThis.fetch(input, init));
  const base = options.baseUrl.replace(/\/+$/, '');
  const listeners = new Set<AuthListener>();
  const locks = typeof navigator === 'undefined' ? undefined : (navigator as Navigator & { locks?: LockManager }).locks;
  // Tabs of one browser share the session through its cookie: a grant or a sign-out in one reaches the others.
  // With the refresh token in the body, each tab keeps to the session it signed in to, and shares it only with
  // the tabs that hold the same refresh token (see `grantFromOtherTab`), on a channel of their own.
  const channel = browser && typeof BroadcastChannel !== 'undefined' ? new BroadcastChannel(`${PREFIX}${body ? 'body:' : ''}${options.tenantId}`) : undefined;
  let current: AuthSession | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let inFlight: Promise<AuthSession> | undefined;
  /** When this tab last took a grant, its own or another tab's. */
  let lastAdopted = 0;
  /** Counts sign-outs: a refresh that was under way when one happened is dropped, not adopted. */
  let generation = 0;
  /** States this client has begun to redeem: a callback handled twice at once redeems once. */
  const spent = new Set<string>();
  /**
   * Told `true` when this tab takes a grant: a tab that waited on the refresh lock waits for the grant another tab just got.
   * Told `false` when every tab asked (body mode) has answered that it has no newer grant.
   */
  const adoptions = new Set<(adopted: boolean) => void>();
  /*
   * Body mode. A tab's refresh token is in its sessionStorage, and a duplicated tab (or one opened with
   * `window.open`) starts with a copy of it. Both tabs redeeming that one token would be a reuse, which
   * the server answers by ending the session (RFC 9700 §4.14.2), in both tabs. So a refresh token MUST be
   * redeemed by one tab only, and the tabs that hold it take what it was redeemed for:
   * - a tab holds a shared Web Lock named after each refresh token it has held (by its SHA-256, which
   *   never reveals it) until it signs out; the browser lets the locks go when the tab goes, even if it
   *   crashed, where a tab id marked on `pagehide` would stay behind;
   * - refreshes take the tenant's refresh lock, one tab at a time. Before it redeems its token, a tab that
   *   sees another holder of it (`navigator.locks.query()`) asks that tab, which hands over its grant if it
   *   has moved past that token, or says it has not;
   * - a tab that redeemed a token tells the grant it got to the tabs that hold that token.
   * Both tabs thus stay signed in, on one session. The grant, refresh token included, goes on a
   * BroadcastChannel, which reaches only pages of this origin: those that can read sessionStorage, or
   * install a service worker that sees every refresh. Without Web Locks, tabs refresh as before.
   */
  /** The fingerprint of the refresh token this tab holds. */
  let holding: string | undefined;
  /** The release of the lock of each refresh token this tab has held. */
  const holds = new Map<string, () => void>();
  /** The grant this tab holds, for a tab that asks with a token this tab has moved past. */
  let lastGrant: SessionGrant | undefined;
  /** The question this tab asked the other holders of its token, and how many have yet to answer. */
  let question: { id: string; left: number } | undefined;
  /** The name of a refresh token between tabs, in body mode in a browser. */
  const fingerprintOf = async (token: string | null | undefined): Promise<string | undefined> => (body && channel && token ? sha256(token) : undefined);
  /**
   * When a tab of this browser last refreshed, kept beside the lock: the
   * lock can pass to a waiting tab before the grant's message reaches it,
   * and this says the grant is on its way. A time, not a secret.
   */
  const refreshedKey = `${PREFIX}refreshed:${options.tenantId}`;
  const lastRefreshed = (): number => {
    try {
      return Number(localStorage.getItem(refreshedKey) ?? 0);
    } catch {
      return 0;
    }
  };
  const markRefreshed = (at: number): void => {
    try {
      localStorage.setItem(refreshedKey, String(at));
    } catch {
      // Storage refused (a private window, a full quota): a waiting tab may then rotate once more, a wasted rotation but never a reuse.
    }
  };
  const adoptedWithin = (ms: number): Promise<boolean> =>
    new Promise((resolve) => {
      const done = (adopted: boolean) => {
        clearTimeout(timeout);
        adoptions.delete(done);
        resolve(adopted);
      };
      const timeout = setTimeout(() => done(false), ms);
      adoptions.add(done);
    });

  /** Holds the lock named after a refresh token: another tab that holds the token then asks this one before it redeems it. */
  function hold(fingerprint: string): void {
    holding = fingerprint;
    if (holds.has(fingerprint)) return;
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    holds.set(fingerprint, release);
    void locks?.request(`${PREFIX}held:${fingerprint}`, { mode: 'shared' }, () => released).catch(() => undefined);
  }

  /** Lets go of the tokens this tab held: it no longer answers for them. */
  function letGo(): void {
    for (const release of holds.values()) release();
    holds.clear();
    holding = undefined;
  }

  /**
   * Body mode, under the refresh lock: whether another tab that holds this tab's refresh token redeemed it
   * and handed over its grant. Asks only when another tab holds the token, and waits for the answers of all
   * of them, at most a second (a frozen tab does not answer).
   */
  async function grantFromOtherTab(): Promise<boolean> {
    const fingerprint = await fingerprintOf(await storage.get(REFRESH_KEY));
    if (!fingerprint || !locks || !channel) return false;
    const { held = [], pending = [] } = await locks.query();
    const others = [...held, ...pending].filter((lock) => lock.name === `${PREFIX}held:${fingerprint}`).length - (holds.has(fingerprint) ? 1 : 0);
    hold(fingerprint);
    if (others < 1) return false;
    question = { id: crypto.randomUUID(), left: others };
    channel.postMessage({ ask: fingerprint, id: question.id });
    try {
      return await adoptedWithin(1_000);
    } finally {
      question = undefined;
    }
  }

  const client = createLeanClient({
    baseUrl: base,
    fetch: fetchImpl,
    headers: { Accept: 'application/json, application/problem+json', 'X-Tenant-Id': options.tenantId },
    // Each operation's security in the contract says which it sends: the API key on refresh, the bearer on the session's operations.
    auth: (scheme) => (scheme.type === 'apiKey' ? options.apiKey : current?.accessToken),
  });

  /** The body of a successful answer; an {@link AuthApiError} for an error answer, or for none at all. */
  async function answer<T>(operation: OperationId, call: Promise<{ data?: T } & CallOutcome>): Promise<T> {
    const { data, error, response } = await call;
    if (!response) throw new AuthApiError(undefined, undefined, operation, error);
    if (!response.ok) throw new AuthApiError(response, error, operation);
    return data as T;
  }

  function emit(event: AuthEvent): void {
    for (const listener of [...listeners]) listener(event, current);
  }

  /**
   * Takes a grant as the current session, schedules its refresh, and tells the other tabs. Body mode: `to`
   * is the fingerprint of the grant's refresh token, and `from` of the token it was redeemed with; only
   * the tabs that hold `from` are told.
   */
  async function adopt(grant: SessionGrant, event: AuthEvent, fromOtherTab: boolean, to?: string, from?: string): Promise<AuthSession> {
    current = { accessToken: grant.access_token, expiresAt: Date.now() + grant.expires_in * 1000, session: grant.session, user: grant.user };
    lastAdopted = Date.now();
    lastGrant = grant;
    if (to) hold(to);
    for (const adopted of [...adoptions]) adopted(true);
    if (grant.refresh_token !== undefined) await storage.set(REFRESH_KEY, grant.refresh_token);
    schedule(grant.expires_in);
    if (!fromOtherTab && (!body || from)) channel?.postMessage(body ? { event, grant, from, to } : { event, grant: { ...grant, refresh_token: undefined } });
    emit(event);
    return current;
  }

  async function clear(tellOthers: boolean): Promise<void> {
    generation += 1;
    const wasSignedIn = current !== undefined;
    const from = holding;
    current = lastGrant = undefined;
    letGo();
    if (timer) clearTimeout(timer);
    await storage.remove(REFRESH_KEY);
    if (tellOthers) channel?.postMessage({ event: 'signed_out', from });
    if (wasSignedIn) emit('signed_out');
  }

  /** Refreshes shortly before the access token expires: a tenth of its lifetime before, at most a minute. */
  function schedule(expiresIn: number): void {
    if (timer) clearTimeout(timer);
    const lead = Math.min(60, expiresIn / 10);
    // setTimeout fires at once beyond 2^31 - 1 ms (about 24.8 days): a longer lifetime waits that long, then schedules again.
    timer = setTimeout(() => void refresh().catch(() => undefined), Math.min(2 ** 31 - 1, Math.max(0, (expiresIn - lead) * 1000)));
    (timer as { unref?: () => void }).unref?.();
  }

  channel?.addEventListener('message', ({ data }: MessageEvent<TabMessage>) => {
    const { event, grant, from, ask, re } = data;
    if (ask) {
      // A tab holds a token this tab held: it gets this tab's grant if this tab has moved past that token, else word that it has not.
      if (holds.has(ask)) channel.postMessage(ask !== holding && current && lastGrant ? { event: 'token_refreshed', grant: { ...lastGrant, expires_in: (current.expiresAt - Date.now()) / 1000 }, from: ask, to: holding } : { re: data.id });
    } else if (re) {
      if (question?.id === re && --question.left < 1) for (const settle of [...adoptions]) settle(false);
    } else if (!body || (from && (from === holding || (event === 'signed_out' && holds.has(from))))) {
      // A sign-out reaches every tab that held its token, also one that moved past it meanwhile (the two crossed).
      if (event === 'signed_out') void clear(false);
      // A tab that restores its session from another tab's grant is signed in by it.
      else if (grant && event) void adopt(grant, body && !current ? 'signed_in' : event, true, data.to);
    }
  });

  async function rotate(): Promise<AuthSession> {
    const at = generation;
    const stored = body ? await storage.get(REFRESH_KEY) : undefined;
    const from = await fingerprintOf(stored);
    try {
      const data = await answer('refreshSession', sdk.refreshSession({ client, ...(stored ? { body: { refresh_token: stored } } : {}) }));
      const to = await fingerprintOf(data.refresh_token);
      // Signed out meanwhile: the user asked to be out, and stays out.
      if (generation !== at) throw new SignInError('signed_out', 'The user signed out while the session was being refreshed.');
      return await adopt(data, current ? 'token_refreshed' : 'signed_in', false, to, from);
    } catch (error) {
      if (isAuthApiError(error, ...SESSION_OVER)) await clear(true);
      throw error;
    }
  }

  function refresh(): Promise<AuthSession> {
    inFlight ??= (async () => {
      const asked = Date.now();
      if (!locks) return rotate();
      // One tab refreshes at a time; a tab that waited takes the grant another tab just got.
      return locks.request(`${PREFIX}refresh:${options.tenantId}`, async () => {
        if (current && lastAdopted > asked) return current;
        // Body mode: a tab that holds this tab's refresh token may have redeemed it; its grant is then this tab's.
        if (body) return ((await grantFromOtherTab()) && current) || rotate();
        // Another tab refreshed after this one last took a grant: its grant is on its way here.
        if (lastRefreshed() > lastAdopted && (await adoptedWithin(1_000)) && current) return current;
        const rotated = await rotate();
        markRefreshed(lastAdopted);
        return rotated;
      });
    })().finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  }

  async function createSession(code: string, state: string, verifier: string): Promise<SessionGrant> {
    const key = crypto.randomUUID();
    const attempts = options.attempts ?? 4;
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await answer(
          'createSession',
          sdk.createSession({ client, headers: { 'Idempotency-Key': key }, body: { code, state, code_verifier: verifier, refresh_token_delivery: delivery } }),
        );
      } catch (error) {
        const retryable = error instanceof AuthApiError && (error.code === 'network_error' || RETRYABLE.has(error.status));
        if (!retryable || attempt >= attempts) throw error;
        const retryAfter = Number((error as AuthApiError).response?.headers.get('retry-after'));
        await sleep(Number.isFinite(retryAfter) && retryAfter > 0 ? Math.min(retryAfter, 30) * 1000 : 250 * 2 ** attempt);
      }
    }
  }

  return {
    get session() {
      return current;
    },

    async signIn(provider, { redirectUri }) {
      const verifier = base64url(crypto.getRandomValues(new Uint8Array(32)));
      const challenge = await sha256(verifier);
      const data = await answer(
        'startOidcLogin',
        sdk.startOidcLogin({ client, path: { provider }, query: { frontend_redirect_uri: redirectUri, code_challenge: challenge, code_challenge_method: 'S256' } }),
      );
      // Only a web page: never a `javascript:` or other URL a misconfigured API might hand over.
      if (!/^https?:\/\//i.test(data.authorization_url)) throw new SignInError('unsafe_authorization_url', 'The authorization URL is not an http(s) URL.');
      await storage.set(`${PREFIX}login:${data.state}`, JSON.stringify({ verifier, expiresAt: data.expires_at }));
      (options.navigate ?? ((url: string) => location.assign(url)))(data.authorization_url);
    },

    async handleRedirectCallback(url = location.href) {
      const address = new URL(url);
      const params = address.searchParams;
      const state = params.get('state');
      const code = params.get('code');
      const error = params.get('error');
      if (browser && url === location.href) {
        for (const name of ['code', 'state', 'iss', 'error', 'error_description']) address.searchParams.delete(name);
        history.replaceState(history.state, '', address.href);
      }
      if (!state || (!code && !error)) throw new SignInError('no_callback', 'The URL is not a sign-in callback: it has no code, state or error.');
      if (spent.has(state)) throw new SignInError('unknown_state', 'This sign-in is already being finished.');
      spent.add(state);
      const saved = await storage.get(`${PREFIX}login:${state}`);
      // A state is used once: whatever comes next, it is spent here.
      await storage.remove(`${PREFIX}login:${state}`);
      if (!saved) throw new SignInError('unknown_state', 'This sign-in was not started here, or was already finished. Sign in again.');
      if (error || !code) throw new SignInError('provider_error', `The provider refused the sign-in: ${error}.`, error ?? undefined);
      const { verifier } = JSON.parse(saved) as { verifier: string };
      const grant = await createSession(code, state, verifier);
      const to = await fingerprintOf(grant.refresh_token);
      // A new session starts a new line of refresh tokens: the tabs that held the previous one no longer get this tab's grants.
      letGo();
      return adopt(grant, 'signed_in', false, to);
    },

    async restore() {
      if (current) return current;
      if (body && !(await storage.get(REFRESH_KEY))) return undefined;
      try {
        return await refresh();
      } catch (error) {
        // No session to restore; a refused API key, by contrast, is a mistake to report.
        if (isAuthApiError(error, ...SESSION_OVER)) return undefined;
        throw error;
      }
    },

    async signOut({ provider, postLogoutRedirectUri } = {}) {
      const logout = () =>
        answer('logout', sdk.logout({ client, ...(provider ? { body: { provider, post_logout_redirect_uri: postLogoutRedirectUri } } : {}) }));
      let providerLogoutUrl: string | null | undefined;
      try {
        // A refresh under way finishes first, so that its grant is the one that is ended.
        await inFlight?.catch(() => undefined);
        if (current) {
          providerLogoutUrl = (
            await logout().catch(async (error: unknown) => {
              // An expired access token: a fresh one ends the session all the same.
              if (!isAuthApiError(error, 'invalid_access_token')) throw error;
              await refresh();
              return logout();
            })
          )?.provider_logout_url;
        }
      } catch (error) {
        // A session that can no longer be refreshed is over already.
        if (!isAuthApiError(error, ...SESSION_OVER)) throw error;
      } finally {
        await clear(true);
      }
      // Only when asked for, and only a web page, as for sign-in.
      const url = provider && providerLogoutUrl && /^https?:\/\//i.test(providerLogoutUrl) ? providerLogoutUrl : null;
      // Opened where pages can be: in a browser, or wherever the app said how (`navigate`).
      if (url && (browser || options.navigate)) (options.navigate ?? ((to: string) => location.assign(to)))(url);
      return { providerLogoutUrl: url };
    },

    refresh,

    onAuthStateChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },

    async fetch(input, init) {
      const request = new Request(input, init);
      const authorize = (token: string | undefined) => {
        const attempt = request.clone();
        if (token && !attempt.headers.has('authorization')) attempt.headers.set('Authorization', `Bearer ${token}`);
        return fetchImpl(attempt);
      };
      // The bearer goes to this API only, never to another origin.
      const sentWith = request.url.startsWith(`${base}/`) ? current?.accessToken : undefined;
      const response = await authorize(sentWith);
      if (response.status !== 401 || !sentWith || request.headers.has('authorization')) return response;
      // Another call may have refreshed meanwhile; otherwise this one does, once for all.
      const fresh = current && current.accessToken !== sentWith ? current : await refresh().catch(() => undefined);
      return fresh ? authorize(fresh.accessToken) : response;
    },

    async providers() {
      return answer('listProviders', sdk.listProviders({ client, headers: { 'X-Tenant-Id': options.tenantId } }));
    },

    async currentSession() {
      return answer('getCurrentSession', sdk.getCurrentSession({ client }));
    },
  };
}

/** What tabs tell each other: a grant or a sign-out (body mode: for the tabs that hold the token `from`), or a question about a token and its answer. */
interface TabMessage {
  event?: AuthEvent;
  grant?: SessionGrant;
  from?: string;
  to?: string;
  ask?: string;
  id?: string;
  re?: string;
}

async function sha256(text: string): Promise<string> {
  return base64url(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text))));
}

function base64url(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
