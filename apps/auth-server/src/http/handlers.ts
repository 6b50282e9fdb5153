import type { HandlerContext, Handlers } from '@aimable/auth-server-kit';
import { parse as parseCookies } from 'cookie';
import { sha256Hex } from '../ids.js';
import { requestFingerprint, type Idempotency } from '../idempotency/idempotency.js';
import type { LoginService, RedeemableLogin } from '../login/login-service.js';
import { databaseUnavailable, loginStateInvalid, refreshRejected, serviceUnavailable, sessionNotFound, storageUnavailable } from '../problems.js';
import type { StorageHealth } from '../health/storage-health.js';
import type { CreationGuard, RefreshChannel, SessionService } from '../sessions/session-service.js';
import type { ProviderLogout } from '../sessions/provider-logout.js';
import type { TenantRegistry } from '../tenants/tenant-registry.js';
import type { AccessTokens } from '../tokens/access-tokens.js';
import type { AuthStore } from '../store/auth-store.js';
import type { AuditLog } from '../audit/audit-log.js';
import type { CallerPrincipals, Callers } from './caller.js';
import type { RateLimits } from './rate-limits.js';
import { clearedRefreshCookie, grantResponse, refreshCookieName } from './grant-response.js';
import { decodeCursor, toAuditEventList, toSession, toSessionList, toUser } from './presenters.js';
import { createReference } from './reference.js';
import { requestOrigin } from './request-context.js';

export interface HandlerDependencies {
  login: LoginService;
  sessions: SessionService;
  providerLogout: ProviderLogout;
  idempotency: Idempotency;
  tenants: TenantRegistry;
  callers: Callers;
  accessTokens: AccessTokens;
  /** The global caps, counted only by requests that passed every check and are about to write. */
  limits: Pick<RateLimits, 'consumeGlobal'>;
  store: Pick<AuthStore, 'ping' | 'probeWrite'>;
  /** Requests waiting for a database connection while every one is in use: readiness answers 503 while there are any. */
  waitingForConnection: () => number;
  /** Whether the storage takes writes; while it does not, readiness tries a write of its own. */
  storage: StorageHealth;
  audit: AuditLog;
  /** True once shutdown has begun: readiness answers 503. */
  isDraining: () => boolean;
  /** True when the keys could not be read again for a while: this instance may sign with a key the others dropped. */
  keysStale: () => boolean;
}

const NO_STORE = { 'Cache-Control': 'no-store' } as const;

/** `start` answers JSON or a redirect by `Accept`: caches must key on it. */
const START_HEADERS = { ...NO_STORE, Vary: 'Accept' } as const;

/**
 * The HTTP face of the services: take the typed input (the caller already
 * resolved by the security step; the tenant the request names from
 * `Caller.tenant()`), call a service, shape the typed response.
 */
export function createHandlers(deps: HandlerDependencies): Handlers<CallerPrincipals> {
  const reference = createReference();
  return {
    async startOidcLogin({ path, query }, { req }) {
      const started = await deps.login.start({
        tenant: deps.callers.of(req).tenant().require(),
        providerId: path.provider,
        frontendRedirectUri: query.frontend_redirect_uri,
        codeChallenge: query.code_challenge,
        codeChallengeMethod: query.code_challenge_method,
      }, () => deps.limits.consumeGlobal('start'));
      // fetch cannot follow a cross-origin redirect to the provider, so SPAs ask for JSON.
      if (req.accepts(['text/html', 'application/json']) === 'application/json') {
        return {
          status: 200,
          body: { authorization_url: started.authorizationUrl, state: started.state, expires_at: new Date(started.expiresAt).toISOString() },
          headers: START_HEADERS,
        };
      }
      return { status: 302, headers: { Location: started.authorizationUrl, ...START_HEADERS } };
    },

    async handleOidcCallback({ path, query }, context) {
      const location = await deps.login.receive(
        {
          providerId: path.provider,
          state: query.state,
          code: query.code,
          iss: query.iss,
          error: query.error,
        },
        requestOrigin(context.req, context.res),
      );
      return { status: 302, headers: { Location: location, ...NO_STORE } };
    },

    async receiveOidcFormPost({ path, body }, context) {
      const location = await deps.login.receive(
        {
          providerId: path.provider,
          state: body.state,
          code: body.code,
          iss: body.iss,
          error: body.error,
          user: body.user,
        },
        requestOrigin(context.req, context.res),
      );
      // 303: the browser follows a posted form's redirect with a GET.
      return { status: 303, headers: { Location: location, ...NO_STORE } };
    },

    async createSession({ headers, body }, context) {
      const caller = deps.callers.of(context.req);
      const namedTenantId = caller.tenant().requireUnambiguousId();
      const delivery = body.refresh_token_delivery ?? 'cookie';
      let login: RedeemableLogin | undefined;
      return deps.idempotency.handle({
        // Scoped to what only the browser that started the login holds.
        ref: { operation: 'createSession', subject: sha256Hex(body.code_verifier ?? `state ${body.state}`), key: headers['Idempotency-Key'] },
        fingerprint: requestFingerprint('POST', '/v1/auth/oidc/session', body),
        // Refused before anything is stored: an unknown state, a missing or wrong verifier, another tenant, a foreign origin.
        admit: async () => {
          login = await deps.login.requireRedeemableLogin({ state: body.state, tenantId: namedTenantId, codeVerifier: body.code_verifier });
          caller.assertOriginAllowedBy([login.tenant]);
          await deps.limits.consumeGlobal('session');
          return login.tenant.id;
        },
        assertReplayable: async (stored, tenantId) => {
          // A login without a verifier proves nothing but its state, which may have leaked from a URL: its grant is not replayed.
          if (body.code_verifier === undefined && stored.status < 300) throw loginStateInvalid();
          const tenant = deps.tenants.find(tenantId);
          if (!tenant || (namedTenantId !== undefined && namedTenantId !== tenantId)) throw loginStateInvalid();
          caller.assertOriginAllowedBy([tenant]);
          if (stored.guard) await deps.sessions.assertCreationReplayable(tenantId, stored.guard as CreationGuard);
        },
        run: async (record) => {
          const { tenant } = login!;
          const issued = await deps.sessions.create({ login: login!, code: body.code, state: body.state, origin: requestOrigin(context.req, context.res) }, (tx, issued) => {
            const guard: CreationGuard = { sessionId: issued.session.id, refreshTokenId: issued.refreshTokenId };
            return record(tx, { ...grantResponse(201, issued, delivery, tenant.id), guard });
          });
          return grantResponse(201, issued, delivery, tenant.id);
        },
        problem: problemContext(context),
      });
    },

    async refreshSession({ headers, body, security }, context) {
      const { tenant } = security.ApiKey;
      const cookieName = refreshCookieName(tenant.id);
      const channel: RefreshChannel = body?.refresh_token !== undefined ? 'body' : 'cookie';
      const token = body?.refresh_token ?? parseCookies(context.req.get('cookie') ?? '')[cookieName];
      if (!token) throw refreshRejected('invalid_refresh_token', `Send the refresh token in the ${cookieName} cookie or the body.`);
      const key = headers?.['Idempotency-Key'];
      const beforeRotate = () => deps.limits.consumeGlobal('refresh');
      const origin = requestOrigin(context.req, context.res);
      if (key === undefined) return grantResponse(200, await deps.sessions.refresh(tenant, token, channel, { beforeRotate, origin }), channel, tenant.id);

      // Scoped to the token's session; refused before anything is stored when the token cannot refresh.
      const { session } = await deps.sessions.requirePresentedToken(tenant, token);
      return deps.idempotency.handle({
        ref: { operation: 'refreshSession', subject: session.id, key },
        // Bound to the token too: a replay never hands a grant to someone who does not hold it.
        fingerprint: requestFingerprint('POST', '/v1/refresh', body, sha256Hex(token)),
        admit: async () => tenant.id,
        // A replay must not outlive what the token itself may do: after logout, reuse or the grace window it is refused.
        assertReplayable: () => deps.sessions.assertReplayable(tenant, token, channel, origin),
        run: async (record) => {
          const issued = await deps.sessions.refresh(tenant, token, channel, {
            beforeRotate,
            origin,
            withinIssue: (tx, issued) => record(tx, grantResponse(200, issued, channel, tenant.id)),
          });
          return grantResponse(200, issued, channel, tenant.id);
        },
        problem: problemContext(context),
      });
    },

    getCurrentSession({ security }) {
      const { session, user } = security.BearerAuth;
      return { status: 200, body: { session: toSession(session), user: toUser(user) }, headers: NO_STORE };
    },

    async logout({ body, security }, context) {
      const auth = security.BearerAuth;
      const origin = requestOrigin(context.req, context.res);
      const clearCookie = clearedRefreshCookie(auth.tenant.id, auth.tenant.sessionPolicy.cookieSameSite);
      if (body?.provider === true) {
        const url = await deps.providerLogout.logOut(auth, body.post_logout_redirect_uri, origin);
        // The URL holds the session's ID token: for its owner only, and never cached.
        return { status: 200, body: { provider_logout_url: url }, headers: { 'Set-Cookie': clearCookie, ...NO_STORE } };
      }
      await deps.sessions.logout(auth, origin);
      return { status: 204, headers: { 'Set-Cookie': clearCookie } };
    },

    async backchannelLogout({ path, body }, context) {
      const tenant = deps.callers.of(context.req).tenant().require();
      await deps.providerLogout.receiveLogoutToken(tenant, path.provider, body.logout_token, requestOrigin(context.req, context.res));
      // Back-Channel Logout 1.0 §2.8: 200, never cached.
      return { status: 200, headers: NO_STORE };
    },

    async listSessions({ query, security }) {
      const auth = security.BearerAuth;
      const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
      const page = await deps.sessions.list(auth, query.limit ?? 20, after);
      return { status: 200, body: toSessionList(page, auth.session.id), headers: NO_STORE };
    },

    async revokeSession({ path, security }, context) {
      if (!(await deps.sessions.revoke(security.BearerAuth, path.session_id, requestOrigin(context.req, context.res)))) throw sessionNotFound();
      return { status: 204 };
    },

    async listAuditEvents({ query, security }) {
      // The key's tenant decides whose events are read: a key reads its own tenant's log only.
      const { tenant } = security.ApiKey;
      const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
      const page = await deps.audit.list(tenant.id, query.limit ?? 20, after && { at: after.createdAt, id: after.id });
      return { status: 200, body: toAuditEventList(page), headers: NO_STORE };
    },

    listProviders(_input, { req }) {
      const tenant = deps.callers.of(req).tenant().require();
      return { status: 200, body: { data: tenant.providers.map((p) => ({ id: p.id, display_name: p.displayName, type: p.type })) } };
    },

    getJwks() {
      return { status: 200, body: deps.accessTokens.jwks(), headers: { 'Cache-Control': 'public, max-age=300' } };
    },

    getHealth() {
      return { status: 200, body: { status: 'ok' } };
    },

    async getReadiness() {
      if (deps.isDraining()) throw serviceUnavailable('The server is shutting down.');
      const waiting = deps.waitingForConnection();
      if (waiting > 0) {
        const reason = `Every database connection is in use and ${waiting} requests wait for one.`;
        throw serviceUnavailable(reason, new Error(reason), 1);
      }
      try {
        await deps.store.ping();
      } catch (error) {
        throw databaseUnavailable(error);
      }
      if (deps.storage.failing) {
        // Whether space is back is tried here too (one try at a time, at most one a second): the instance is out of
        // traffic, and nothing else may write to tell.
        let writable: boolean;
        try {
          writable = await deps.storage.recheck();
        } catch (error) {
          throw databaseUnavailable(error);
        }
        const code = deps.storage.failureCode;
        if (!writable && code !== undefined) throw storageUnavailable(Object.assign(new Error(`writes to the storage fail (${code})`), { code }));
      }
      if (deps.keysStale()) {
        const reason = 'The signing and sealing keys could not be read again for three refresh intervals (see the log): a rotation may be missed.';
        throw serviceUnavailable(reason, new Error(reason));
      }
      return { status: 200, body: { status: 'ready', checks: { database: 'ok' } } };
    },

    async getOpenApiDocument() {
      return { status: 200, body: await reference.contract(), headers: { 'Cache-Control': 'public, max-age=300' } };
    },

    getApiReference() {
      const { html, contentSecurityPolicy } = reference.page();
      return { status: 200, body: html, headers: { 'Cache-Control': 'public, max-age=300', 'Content-Security-Policy': contentSecurityPolicy } };
    },

    async getApiReferenceScript() {
      return { status: 200, body: await reference.script(), headers: { 'Cache-Control': 'public, max-age=86400' } };
    },
  };
}

/** What a stored 4xx problem names: the request id and the path. */
function problemContext(context: HandlerContext): { requestId: string; instance: string } {
  return { requestId: context.requestId, instance: context.req.originalUrl.split('?', 1)[0] ?? '/' };
}
