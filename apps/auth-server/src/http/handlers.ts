import { ApiProblem, problemDocument, type HandlerContext, type Handlers } from '@aimable/auth-server-kit';
import { sha256Hex } from '../ids.js';
import { Idempotency, requestFingerprint, type StoredResponse } from '../idempotency/idempotency.js';
import type { LoginService } from '../login/login-service.js';
import { toSession, toUser, type SessionService } from '../sessions/session-service.js';
import type { AuthStore, IdempotencyScope, StoreOperations } from '../store/auth-store.js';
import type { TenantRegistry } from '../tenants/tenant-registry.js';
import type { AccessTokens } from '../tokens/access-tokens.js';
import { parse as parseCookies } from 'cookie';
import { clearedRefreshCookie, grantResponse, refreshCookieName } from './grant-response.js';
import type { RateLimits } from './rate-limits.js';

export interface HandlerDependencies {
  login: LoginService;
  sessions: SessionService;
  idempotency: Idempotency;
  tenants: TenantRegistry;
  accessTokens: AccessTokens;
  limits: RateLimits;
  store: AuthStore;
  /** True once shutdown has begun: readiness answers 503. */
  isDraining: () => boolean;
}

const NO_STORE = { 'Cache-Control': 'no-store' } as const;

/** The HTTP face of the services: parse the typed input, call a service, shape the typed response. */
export function createHandlers(deps: HandlerDependencies): Handlers {
  return {
    async startOidcLogin({ path, query, headers }, { req }) {
      await deps.limits.consume('start', req);
      const started = await deps.login.start({
        tenantHeader: headers['X-Tenant-Id'],
        tenantQuery: query.tenant,
        providerId: path.provider,
        frontendRedirectUri: query.frontend_redirect_uri,
        codeChallenge: query.code_challenge,
        codeChallengeMethod: query.code_challenge_method,
      });
      // fetch cannot follow a cross-origin redirect to the provider, so SPAs ask for JSON.
      if (req.accepts(['text/html', 'application/json']) === 'application/json') {
        return {
          status: 200,
          body: { authorization_url: started.authorizationUrl, state: started.state, expires_at: new Date(started.expiresAt).toISOString() },
          headers: NO_STORE,
        };
      }
      return { status: 302, headers: { Location: started.authorizationUrl, ...NO_STORE } };
    },

    async handleOidcCallback({ path, query }) {
      const location = await deps.login.receive({
        providerId: path.provider,
        state: query.state,
        code: query.code,
        iss: query.iss,
        error: query.error,
        errorDescription: query.error_description,
      });
      return { status: 302, headers: { Location: location, ...NO_STORE } };
    },

    async createSession({ headers, body }, context) {
      await deps.limits.consume('session', context.req);
      // Refused before anything is stored: an unknown state, another tenant's, or a missing or wrong verifier.
      const login = await deps.login.redeemable({ state: body.state, tenantId: headers['X-Tenant-Id'], codeVerifier: body.code_verifier });
      const { tenant } = login;
      const delivery = body.refresh_token_delivery ?? 'cookie';
      const scope = { tenantId: tenant.id, operation: 'createSession', key: headers['Idempotency-Key'] };
      const fingerprint = requestFingerprint('POST', '/v1/auth/oidc/session', body);
      return idempotent(deps.idempotency, context, scope, fingerprint, async (record) => {
        const issued = await deps.sessions.create(
          { login, code: body.code, state: body.state },
          record && ((tx, issued) => record(tx, grantResponse(201, issued, delivery, tenant.id))),
        );
        return grantResponse(201, issued, delivery, tenant.id);
      });
    },

    async refreshSession({ headers, body }, context) {
      await deps.limits.consume('refresh', context.req);
      const tenant = deps.tenants.tenantForApiKey(context.req.get('x-api-key') ?? '');
      if (!tenant) throw new ApiProblem({ status: 401, code: 'invalid_api_key', detail: 'X-API-Key is not valid.' });
      const cookieName = refreshCookieName(tenant.id);
      const token = body?.refresh_token ?? parseCookies(context.req.get('cookie') ?? '')[cookieName];
      if (!token) throw new ApiProblem({ status: 401, code: 'invalid_refresh_token', detail: `Send the refresh token in the ${cookieName} cookie or the body.` });
      const delivery = body?.refresh_token !== undefined ? 'body' : 'cookie';
      const key = headers?.['Idempotency-Key'];
      const scope = key === undefined ? undefined : { tenantId: tenant.id, operation: 'refreshSession', key };
      // Bound to the token too: a replay must never hand a grant to someone who does not hold it.
      const fingerprint = requestFingerprint('POST', '/v1/refresh', body, sha256Hex(token));
      const replay = {
        // A replay must not outlive what the token itself may do: after logout, reuse or the grace window it is refused.
        check: () => deps.sessions.assertReplayable(tenant, token),
      };
      return idempotent(
        deps.idempotency,
        context,
        scope,
        fingerprint,
        async (record) => {
          const issued = await deps.sessions.refresh(tenant, token, record && ((tx, issued) => record(tx, grantResponse(200, issued, delivery, tenant.id))));
          return grantResponse(200, issued, delivery, tenant.id);
        },
        replay,
      );
    },

    async getCurrentSession(_input, { req }) {
      const auth = await deps.sessions.authenticate(req.get('authorization'));
      return { status: 200, body: { session: toSession(auth.session), user: toUser(auth.user) } };
    },

    async logout(_input, { req }) {
      const auth = await deps.sessions.authenticate(req.get('authorization'));
      await deps.sessions.logout(auth);
      return { status: 204, headers: { 'Set-Cookie': clearedRefreshCookie(auth.tenant.id) } };
    },

    async listSessions({ query }, { req }) {
      const auth = await deps.sessions.authenticate(req.get('authorization'));
      return { status: 200, body: await deps.sessions.list(auth, query.limit ?? 20, query.cursor) };
    },

    async revokeSession({ path }, { req }) {
      const auth = await deps.sessions.authenticate(req.get('authorization'));
      if (!(await deps.sessions.revoke(auth, path.session_id))) {
        throw new ApiProblem({ status: 404, code: 'not_found', detail: 'No such session.' });
      }
      return { status: 204 };
    },

    listProviders({ headers }) {
      const tenant = deps.tenants.require(headers['X-Tenant-Id']);
      return { status: 200, body: { data: tenant.providers.map((p) => ({ id: p.id, display_name: p.displayName })) } };
    },

    getJwks() {
      return { status: 200, body: deps.accessTokens.jwks(), headers: { 'Cache-Control': 'public, max-age=300' } };
    },

    getHealth() {
      return { status: 200, body: { status: 'ok' } };
    },

    async getReadiness() {
      if (deps.isDraining()) throw new ApiProblem({ status: 503, code: 'service_unavailable', detail: 'The server is shutting down.' });
      try {
        await deps.store.ping();
      } catch (error) {
        throw new ApiProblem({ status: 503, code: 'service_unavailable', detail: 'The database does not answer.', cause: error });
      }
      return { status: 200, body: { status: 'ready', checks: { database: 'ok' } } };
    },
  };
}

/** Stores the response in the transaction that produced it. */
type RecordResponse = (tx: StoreOperations, response: StoredResponse) => Promise<void>;

/**
 * Runs `work` at most once per idempotency key. A completed request is
 * replayed with `Idempotent-Replayed: true`; a 4xx is stored and replayed
 * too; a 5xx or a crash releases the key so that a retry runs again.
 */
async function idempotent<R extends { status: number; body?: unknown; headers?: object }>(
  idempotency: Idempotency,
  context: HandlerContext,
  scope: IdempotencyScope | undefined,
  fingerprint: string,
  work: (record: RecordResponse | undefined) => Promise<R>,
  replay?: { check: () => Promise<void> },
): Promise<R> {
  if (!scope) return work(undefined);
  const started = await idempotency.start(scope, fingerprint);
  if (started.kind === 'replay') {
    await replay?.check();
    const { status, headers, body } = started.response;
    return { status, body, headers: { ...headers, 'Idempotent-Replayed': 'true' } } as unknown as R;
  }
  try {
    return await work((tx, response) => started.claim.complete(tx, response));
  } catch (error) {
    if (error instanceof ApiProblem && error.status < 500) {
      const instance = context.req.originalUrl.split('?', 1)[0] ?? '/';
      await started.claim.completeAlone({ status: error.status, headers: error.headers, body: problemDocument(error, context.requestId, instance) });
    } else {
      await started.claim.release();
    }
    throw error;
  }
}
