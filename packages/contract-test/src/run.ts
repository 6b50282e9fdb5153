import { createHash, randomBytes, randomInt } from 'node:crypto';
import { AuthApiError, createAuthClient, type AuthClient, type SessionGrant } from '@aimable/auth-client';
import { operations } from '@aimable/auth-openapi';
import { ContractJudge, type JudgeOptions } from '@aimable/auth-openapi/judge';
import { ContractBreach, fuzz, type Pool } from './fuzz.js';
import { LoginNeedsCredentials, loginAtProvider } from './login.js';

/** What to test, and as whom. */
export interface ContractTestOptions {
  baseUrl: string;
  /** The tenant to speak for (`X-Tenant-Id`). */
  tenant?: string;
  /** The tenant's API key, for refresh. */
  apiKey?: string;
  /** A provider of the tenant; with it, a login is started, and finished when its page can be passed. */
  provider?: string;
  /** The test user at the provider's login form. */
  user?: string;
  password?: string;
  /** A frontend redirect URI the tenant allows. Default: `http://localhost:5173/auth/callback`. */
  redirectUri?: string;
  /** Fuzzer seed. Default: a random one, reported. */
  seed?: number;
  /** How many fuzzed requests. Default: 1,000. */
  requests?: number;
  /** Only what writes nothing: no login, no session, no refresh; fuzzing of read operations only. */
  readOnly?: boolean;
  /** Report headers the contract does not declare (other than HTTP's own and security headers). Default: false. */
  strictHeaders?: boolean;
  timeoutMs?: number;
}

export type Outcome = 'passed' | 'failed' | 'skipped';

/** One check and how it went. A failure carries the request that reproduces it. */
export interface CheckResult {
  /** The operation it is about, or `(unrouted)`. */
  operation: string;
  name: string;
  outcome: Outcome;
  /** Whether the check writes on the target (a login state, a session, a refresh). */
  writes: boolean;
  ms: number;
  message?: string;
  /** `curl …` for the request whose answer broke the contract. */
  reproduce?: string;
}

export interface ContractTestReport {
  baseUrl: string;
  seed: number;
  requests: number;
  results: CheckResult[];
  ok: boolean;
}

interface Exchange {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string;
  status: number;
  responseHeaders: Record<string, string>;
  text: string;
}

class CheckFailure extends Error {
  constructor(
    message: string,
    readonly exchange?: Exchange,
  ) {
    super(message);
  }
}

class Skip extends Error {}

/** Every operation whose fuzzing writes nothing on a correct implementation. */
const READ_ONLY_OPERATIONS: ReadonlySet<string> = new Set(operations.filter((operation) => operation.method === 'get' && operation.operationId !== 'startOidcLogin').map((operation) => operation.operationId));

/**
 * Runs the client-level suite (every operation through the typed client;
 * the full login when a provider is given and its page can be passed) and
 * the fuzzer, one operation at a time, against any implementation of the
 * contract. Every answer is judged by the contract.
 */
export async function runContractTests(options: ContractTestOptions): Promise<ContractTestReport> {
  const baseUrl = options.baseUrl.replace(/\/+$/, '');
  const judgeOptions: JudgeOptions = { undeclaredHeaders: options.strictHeaders ?? false };
  const judge = new ContractJudge(judgeOptions);
  const tenant = options.tenant ?? 'demo';
  const redirectUri = options.redirectUri ?? 'http://localhost:5173/auth/callback';
  const results: CheckResult[] = [];
  let last: Exchange | undefined;

  /** The typed client, every exchange of which is kept to be judged. */
  const recording: typeof fetch = async (input, init) => {
    const request = new Request(input, init);
    const body = request.body ? await request.clone().text() : undefined;
    const response = await fetch(request, { redirect: 'manual', signal: AbortSignal.timeout(options.timeoutMs ?? 10_000) });
    const text = await response.clone().text();
    last = {
      method: request.method,
      url: request.url,
      headers: Object.fromEntries(request.headers),
      ...(body ? { body } : {}),
      status: response.status,
      responseHeaders: Object.fromEntries(response.headers),
      text,
    };
    return response;
  };
  const client = (extra: { accessToken?: string; tenant?: string | null } = {}): AuthClient =>
    createAuthClient({ baseUrl, tenantId: extra.tenant === null ? undefined : (extra.tenant ?? tenant), apiKey: options.apiKey, accessToken: extra.accessToken, fetch: recording, credentials: 'omit' });

  /** Judges the last exchange as an answer of `operationId`. */
  const judged = (operationId: string | undefined) => {
    const exchange = last;
    if (!exchange) throw new CheckFailure('No request was made.');
    let body: unknown;
    try {
      body = exchange.text === '' ? undefined : JSON.parse(exchange.text);
    } catch {
      body = exchange.text;
    }
    const violations = judge.judge({ operationId, status: exchange.status, headers: exchange.responseHeaders, body, text: exchange.text, method: exchange.method });
    if (violations.length > 0) throw new CheckFailure(`answered ${exchange.status}: ${violations.map((v) => v.message).join('; ')}`, exchange);
    return exchange;
  };

  /** A call that may fail with a problem: what matters is that its answer is one the contract declares. */
  const call = async <T>(operationId: string, run: () => Promise<T>): Promise<T | AuthApiError> => {
    last = undefined;
    const result = await run().catch((error: unknown) => {
      if (error instanceof AuthApiError && error.code !== 'network_error') return error;
      throw new CheckFailure(error instanceof Error ? error.message : String(error));
    });
    judged(operationId);
    return result;
  };
  const succeeded = <T>(result: T | AuthApiError, what: string): T => {
    if (result instanceof AuthApiError) throw new CheckFailure(`${what}: answered ${result.status} ${result.code}`, last);
    return result;
  };
  const expectStatus = (result: unknown, status: number, what: string) => {
    const actual = result instanceof AuthApiError ? result.status : last?.status;
    if (actual !== status) throw new CheckFailure(`${what}: expected ${status}, answered ${actual}`, last);
  };

  async function check(operation: string, name: string, writes: boolean, run: () => Promise<void>): Promise<boolean> {
    const started = performance.now();
    const result: CheckResult = { operation, name, outcome: 'passed', writes, ms: 0 };
    if (writes && options.readOnly) {
      results.push({ ...result, outcome: 'skipped', message: 'writes on the target (--read-only)' });
      return false;
    }
    try {
      await run();
    } catch (error) {
      if (error instanceof Skip) Object.assign(result, { outcome: 'skipped', message: error.message });
      else {
        const exchange = error instanceof CheckFailure ? error.exchange : undefined;
        Object.assign(result, { outcome: 'failed', message: error instanceof Error ? error.message : String(error), ...(exchange ? { reproduce: curl(exchange) } : {}) });
      }
    }
    result.ms = Math.round(performance.now() - started);
    results.push(result);
    return result.outcome === 'passed';
  }

  // What needs no session.
  await check('getHealth', 'answers the liveness probe', false, async () => void succeeded(await call('getHealth', () => client().getHealth({})), 'getHealth'));
  await check('getReadiness', 'answers the readiness probe: ready, or 503 while starting or stopping', false, async () => {
    const result = await call('getReadiness', () => client().getReadiness({}));
    if (result instanceof AuthApiError && result.status !== 503) throw new CheckFailure(`answered ${result.status} ${result.code}`, last);
  });
  await check('getJwks', 'publishes the key set', false, async () => void succeeded(await call('getJwks', () => client().getJwks({})), 'getJwks'));
  await check('getOpenApiDocument', 'serves the contract', false, async () => void succeeded(await call('getOpenApiDocument', () => client().getOpenApiDocument({})), 'getOpenApiDocument'));
  await check('getApiReference', 'serves the reference page', false, async () => void succeeded(await call('getApiReference', () => client().getApiReference({})), 'getApiReference'));
  await check('getApiReferenceScript', "serves the reference page's script", false, async () => void succeeded(await call('getApiReferenceScript', () => client().getApiReferenceScript({})), 'getApiReferenceScript'));
  await check('listProviders', "lists the tenant's providers", false, async () => void succeeded(await call('listProviders', () => client().listProviders({})), 'listProviders'));
  await check('listProviders', 'refuses a request without a tenant: 400 invalid_request', false, async () => {
    const result = await call('listProviders', () => client({ tenant: null }).listProviders({}));
    expectStatus(result, 400, 'without X-Tenant-Id');
  });
  const anonymous: [string, () => Promise<unknown>][] = [
    ['getCurrentSession', () => client().getCurrentSession({})],
    ['listSessions', () => client().listSessions({})],
  ];
  for (const [operationId, run] of anonymous) {
    await check(operationId, 'refuses a request without a bearer token: 401 with its challenge', false, async () => {
      const result = await call(operationId, run);
      expectStatus(result, 401, 'without a bearer token');
    });
  }
  await check('handleOidcCallback', 'answers a callback with a state it never issued as the contract declares, never with a 5xx', !options.provider, async () => {
    if (!options.provider) throw new Skip('no --provider given');
    await call('handleOidcCallback', () => client().handleOidcCallback({ path: { provider: options.provider! }, query: { code: 'contract-test', state: 'contract-test-unknown-state' }, redirect: 'manual' }));
    if ((last?.status ?? 500) >= 500) throw new CheckFailure(`answered ${last?.status}`, last);
  });
  await check('receiveOidcFormPost', 'answers a form post callback with a state it never issued as the contract declares, never with a 5xx', !options.provider, async () => {
    if (!options.provider) throw new Skip('no --provider given');
    await call('receiveOidcFormPost', () => client().receiveOidcFormPost({ path: { provider: options.provider! }, body: { code: 'contract-test', state: 'contract-test-unknown-state' }, redirect: 'manual' }));
    if ((last?.status ?? 500) >= 500) throw new CheckFailure(`answered ${last?.status}`, last);
  });
  await check('(unrouted)', 'answers 404 for a path outside the contract, 405 with Allow for a method a path does not take', false, async () => {
    for (const [method, path] of [['GET', '/v1/contract-test-nothing-here'], ['DELETE', '/healthz']]) {
      last = undefined;
      await recording(`${baseUrl}${path}`, { method });
      const exchange = judged(undefined);
      if (exchange.status !== (method === 'GET' ? 404 : 405)) throw new CheckFailure(`answered ${exchange.status}`, exchange);
    }
  });

  // The login, and what a session can do.
  let grant: SessionGrant | undefined;
  const signIn = async (): Promise<SessionGrant> => {
    if (!options.provider) throw new Skip('no --provider given');
    const verifier = randomBytes(32).toString('base64url');
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    const started = succeeded(
      await call('startOidcLogin', () => client().startOidcLogin({ path: { provider: options.provider! }, query: { frontend_redirect_uri: redirectUri, code_challenge: challenge, code_challenge_method: 'S256' } })),
      'start',
    );
    let providerReturn: string;
    try {
      providerReturn = await loginAtProvider(started.data.authorization_url, `${baseUrl}/v1/auth/oidc/${encodeURIComponent(options.provider)}/callback`, options.user && options.password ? { username: options.user, password: options.password } : undefined);
    } catch (error) {
      if (error instanceof LoginNeedsCredentials) throw new Skip(error.message);
      throw new CheckFailure(`the provider's login: ${error instanceof Error ? error.message : String(error)}`);
    }
    const query = new URL(providerReturn).searchParams;
    const callback = succeeded(
      await call('handleOidcCallback', () =>
        client().handleOidcCallback({ path: { provider: options.provider! }, query: { code: query.get('code') ?? '', state: query.get('state') ?? '', ...(query.get('iss') ? { iss: query.get('iss')! } : {}) }, redirect: 'manual' }),
      ),
      'callback',
    );
    const back = new URL(callback.response.headers.get('location') ?? '', baseUrl);
    if (back.searchParams.get('error')) throw new CheckFailure(`the callback returned error=${back.searchParams.get('error')}`, last);
    const created = succeeded(
      await call('createSession', () =>
        client().createSession({
          headers: { 'Idempotency-Key': crypto.randomUUID() },
          body: { code: back.searchParams.get('code') ?? '', state: back.searchParams.get('state') ?? '', code_verifier: verifier, refresh_token_delivery: 'body' },
        }),
      ),
      'createSession',
    );
    expectStatus(created, 201, 'createSession');
    return created.data;
  };
  await check('startOidcLogin', 'starts a login (writes a login state)', true, async () => {
    if (!options.provider) throw new Skip('no --provider given');
    const challenge = createHash('sha256').update(randomBytes(32).toString('base64url')).digest('base64url');
    succeeded(await call('startOidcLogin', () => client().startOidcLogin({ path: { provider: options.provider! }, query: { frontend_redirect_uri: redirectUri, code_challenge: challenge, code_challenge_method: 'S256' } })), 'start');
  });
  await check('createSession', 'signs in through the provider and creates a session (writes a session)', true, async () => {
    grant = await signIn();
  });
  const withSession = async (operation: string, name: string, run: (session: SessionGrant) => Promise<void>) =>
    check(operation, name, true, async () => {
      if (!grant) throw new Skip('no session: the sign-in did not run');
      await run(grant);
    });
  await withSession('getCurrentSession', 'describes the session of the access token', async (session) => {
    succeeded(await call('getCurrentSession', () => client({ accessToken: session.access_token }).getCurrentSession({})), 'getCurrentSession');
  });
  await withSession('listSessions', "lists the user's sessions", async (session) => {
    succeeded(await call('listSessions', () => client({ accessToken: session.access_token }).listSessions({ query: { limit: 10 } })), 'listSessions');
  });
  await withSession('refreshSession', 'rotates the refresh token (writes a refresh)', async (session) => {
    if (!options.apiKey) throw new Skip('no --api-key given');
    if (!session.refresh_token) throw new CheckFailure('the grant asked for in the body has no refresh_token');
    const refreshed = succeeded(await call('refreshSession', () => client().refreshSession({ body: { refresh_token: session.refresh_token! } })), 'refreshSession');
    grant = refreshed.data;
  });
  await withSession('revokeSession', 'revokes another session of the user (writes a revocation)', async (session) => {
    const other = await signIn();
    const result = await call('revokeSession', () => client({ accessToken: session.access_token }).revokeSession({ path: { session_id: other.session.id } }));
    expectStatus(result, 204, 'revokeSession');
  });

  await withSession('logout', 'ends a session (writes a revocation)', async () => {
    // A session of its own: the first one stays live for the fuzzer.
    const ended = await signIn();
    const result = await call('logout', () => client({ accessToken: ended.access_token }).logout({}));
    expectStatus(result, 204, 'logout');
  });

  // The fuzzer, operation by operation, with what the suite learnt as known-good values.
  const seed = options.seed ?? randomInt(2 ** 31);
  const requests = options.requests ?? 1_000;
  const fuzzed = operations.filter((operation) => !options.readOnly || READ_ONLY_OPERATIONS.has(operation.operationId));
  const pool: Pool = {
    'header.X-Tenant-Id': [tenant],
    'query.tenant': [tenant],
    'query.frontend_redirect_uri': [redirectUri],
    'query.code_challenge_method': ['S256'],
    ...(options.provider ? { 'path.provider': [options.provider] } : {}),
    ...(options.apiKey ? { 'header.X-API-Key': [options.apiKey] } : {}),
  };
  const perOperation = Math.floor(requests / fuzzed.length);
  for (const operation of perOperation > 0 ? fuzzed : []) {
    await check(operation.operationId, `fuzzed with ${perOperation} requests (seed ${seed})`, !READ_ONLY_OPERATIONS.has(operation.operationId), async () => {
      const live: Pool = { ...pool, ...(grant ? { 'header.Authorization': [`Bearer ${grant.access_token}`] } : {}) };
      try {
        await fuzz({ baseUrl, seed, runs: perOperation, pool: () => live, operations: [operation.operationId], judge: judgeOptions, timeoutMs: options.timeoutMs });
      } catch (error) {
        if (!(error instanceof ContractBreach)) throw error;
        const { request, answer, violations } = error;
        throw new CheckFailure(`${request.method} ${request.target} answered ${answer.status}: ${violations.join('; ')}`, {
          method: request.method,
          url: `${baseUrl}${request.target}`,
          headers: request.headers,
          ...(request.body === undefined ? {} : { body: request.body }),
          status: answer.status,
          responseHeaders: answer.headers,
          text: answer.text,
        });
      }
    });
  }

  return { baseUrl, seed, requests: perOperation * fuzzed.length, results, ok: results.every((result) => result.outcome !== 'failed') };
}

/** The request as a command a person can run again. */
function curl(exchange: Exchange): string {
  const quote = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`;
  const parts = ['curl', '-i'];
  if (exchange.method !== 'GET') parts.push('-X', exchange.method);
  for (const [name, value] of Object.entries(exchange.headers)) {
    if (['content-length', 'accept-encoding', 'user-agent', 'connection', 'accept-language', 'sec-fetch-mode'].includes(name.toLowerCase())) continue;
    parts.push('-H', quote(`${name}: ${value}`));
  }
  if (exchange.body !== undefined) parts.push('--data-binary', quote(exchange.body.length > 500 ? `${exchange.body.slice(0, 500)}…` : exchange.body));
  parts.push(quote(exchange.url));
  return parts.join(' ');
}
