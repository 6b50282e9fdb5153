import { ApiProblem, type ProblemOf, type ValidationIssue } from '@aimable/auth-server-kit';

/**
 * Every problem the server raises, each typed by the operations that may
 * answer it: a factory compiles only while every one of its operations
 * declares that status, that code and its required headers. The `401`
 * challenges (RFC 9110 §11.6.1) and the `Retry-After` of `5xx` answers are
 * set here, once.
 */

const REALM = 'aimable-auth';

/** The `WWW-Authenticate` challenge of each security scheme, for a credential that is missing. */
export const CHALLENGES = {
  ApiKey: `ApiKey realm="${REALM}", header="X-API-Key"`,
  BearerAuth: `Bearer realm="${REALM}"`,
} as const;

/** RFC 6750 §3.1: a bearer token was sent, and is not accepted. */
const INVALID_TOKEN_CHALLENGE = `Bearer realm="${REALM}", error="invalid_token"`;

/** A login is proven by its state and the PKCE verifier of the browser that started it. */
const LOGIN_CHALLENGE = `Login realm="${REALM}"`;

/** Seconds a client waits before retrying when the provider or the database does not answer. */
export const RETRY_AFTER_SECONDS = 5;

/** An input the contract cannot express a rule for: a pairing of parameters, a cursor, PKCE. */
export function invalidRequest(location: string, message: string): ApiProblem<ProblemOf<'startOidcLogin' | 'listSessions' | 'listAuditEvents'>> {
  return new ApiProblem({ status: 400, code: 'invalid_request', ...issue(location, message) });
}

/** No tenant named, where the operation needs one. */
export function tenantMissing(): ApiProblem<ProblemOf<'startOidcLogin' | 'listProviders'>> {
  return new ApiProblem({ status: 400, code: 'invalid_request', ...issue('headers.x-tenant-id', 'is required (or the tenant query parameter, for links and navigations)') });
}

/** `X-Tenant-Id` and the `tenant` query parameter name different tenants: neither is taken for the other. */
export function tenantNamesDiffer(): ApiProblem<ProblemOf<'startOidcLogin' | 'createSession' | 'listProviders'>> {
  return new ApiProblem({ status: 400, code: 'invalid_request', ...issue('query.tenant', 'differs from X-Tenant-Id; send one, or the same tenant in both') });
}

/** The detail and `errors` of an `invalid_request` with one issue. */
function issue(location: string, message: string): { detail: string; errors: ValidationIssue[] } {
  return { detail: `${location} ${message}`, errors: [{ location, message }] };
}

export function unknownTenant(tenantId: string): ApiProblem<ProblemOf<'startOidcLogin' | 'listProviders' | 'backchannelLogout'>> {
  return new ApiProblem({ status: 400, code: 'unknown_tenant', detail: `No tenant has the id '${tenantId}'.` });
}

export function unknownProvider(providerId: string): ApiProblem<ProblemOf<'startOidcLogin' | 'handleOidcCallback' | 'receiveOidcFormPost' | 'backchannelLogout'>> {
  return new ApiProblem({ status: 404, code: 'unknown_provider', detail: `The tenant has no provider '${providerId}'.` });
}

export function redirectUriNotAllowed(): ApiProblem<ProblemOf<'startOidcLogin'>> {
  return new ApiProblem({ status: 400, code: 'redirect_uri_not_allowed', detail: "frontend_redirect_uri is not on the tenant's allowlist." });
}

/** A logout's `post_logout_redirect_uri` is not one of the tenant's post-logout URIs: nothing is revoked. */
export function postLogoutRedirectUriNotAllowed(): ApiProblem<ProblemOf<'logout'>> {
  return new ApiProblem({ status: 400, code: 'redirect_uri_not_allowed', detail: "post_logout_redirect_uri is not one of the tenant's post-logout URIs." });
}

/**
 * A back-channel logout token that is not to be acted on (Back-Channel
 * Logout 1.0 §2.6): one answer for every reason, which goes to the log only.
 */
export function invalidLogoutToken(reason: string, cause?: unknown): ApiProblem<ProblemOf<'backchannelLogout'>> {
  return new ApiProblem({ status: 400, code: 'invalid_logout_token', detail: 'The logout token is not valid.', cause: new Error(reason, { cause }) });
}

/** The callback's state is unknown, expired, used, or another provider's: there is no safe place to redirect to. */
export function callbackStateInvalid(): ApiProblem<ProblemOf<'handleOidcCallback' | 'receiveOidcFormPost'>> {
  return new ApiProblem({ status: 400, code: 'invalid_state', detail: 'The login state is unknown or expired. Start the login again.' });
}

/** A session creation that the login does not allow: `invalid_state` (unknown, expired, used) or `invalid_grant` (verifier, provider). */
export function loginRejected(code: 'invalid_state' | 'invalid_grant', detail: string, cause?: unknown): ApiProblem<ProblemOf<'createSession'>> {
  return new ApiProblem({ status: 401, code, detail, cause, headers: { 'WWW-Authenticate': LOGIN_CHALLENGE } });
}

/**
 * The login state cannot be redeemed: unknown, expired, used, or another
 * tenant's. One answer for all, so that a presenter learns nothing from
 * which it was.
 */
export function loginStateInvalid(): ApiProblem<ProblemOf<'createSession'>> {
  return loginRejected('invalid_state', 'The login state is unknown, expired or already used.');
}

export function invalidApiKey(): ApiProblem<ProblemOf<'refreshSession' | 'listAuditEvents'>> {
  return new ApiProblem({ status: 401, code: 'invalid_api_key', detail: 'X-API-Key is not valid.', headers: { 'WWW-Authenticate': CHALLENGES.ApiKey } });
}

/** A refresh the token does not allow. The client proved its API key, so the challenge names the scheme, not an error. */
export function refreshRejected(code: 'invalid_refresh_token' | 'refresh_token_reused' | 'session_expired', detail: string): ApiProblem<ProblemOf<'refreshSession'>> {
  return new ApiProblem({ status: 401, code, detail, headers: { 'WWW-Authenticate': CHALLENGES.ApiKey } });
}

export function accessTokenRejected(): ApiProblem<ProblemOf<'getCurrentSession' | 'logout' | 'listSessions' | 'revokeSession'>> {
  return new ApiProblem({
    status: 401,
    code: 'invalid_access_token',
    detail: 'The access token is missing, invalid or expired, or its session has ended.',
    headers: { 'WWW-Authenticate': INVALID_TOKEN_CHALLENGE },
  });
}

export function originNotAllowed(origin: string | undefined): ApiProblem<ProblemOf<'createSession' | 'refreshSession' | 'logout' | 'revokeSession'>> {
  return new ApiProblem({ status: 403, code: 'origin_not_allowed', detail: `The origin ${origin} is not allowed for this tenant.` });
}

/** A valid API key of the tenant, without the scope the operation requires. */
export function insufficientScope(scope: string): ApiProblem<ProblemOf<'refreshSession' | 'listAuditEvents'>> {
  return new ApiProblem({ status: 403, code: 'insufficient_scope', detail: `This API key lacks the ${scope} scope.` });
}

export function sessionNotFound(): ApiProblem<ProblemOf<'revokeSession'>> {
  return new ApiProblem({ status: 404, code: 'not_found', detail: 'No such session.' });
}

export function idempotencyKeyReused(): ApiProblem<ProblemOf<'createSession' | 'refreshSession'>> {
  return new ApiProblem({ status: 422, code: 'idempotency_key_reused', detail: 'This Idempotency-Key was used with a different request.' });
}

export function idempotencyKeyInUse(retryAfterSeconds: number): ApiProblem<ProblemOf<'createSession' | 'refreshSession'>> {
  return new ApiProblem({
    status: 409,
    code: 'idempotency_key_in_use',
    detail: 'A request with this Idempotency-Key is still being processed. Retry after the time given.',
    headers: { 'Retry-After': retryAfterSeconds },
  });
}

export function rateLimited(retryAfterSeconds: number): ApiProblem<ProblemOf<'startOidcLogin' | 'createSession' | 'refreshSession'>> {
  return new ApiProblem({ status: 429, code: 'rate_limited', detail: 'Too many requests. Retry after the time given.', headers: { 'Retry-After': retryAfterSeconds } });
}

export function providerUnavailable(cause: unknown): ApiProblem<ProblemOf<'startOidcLogin' | 'handleOidcCallback' | 'createSession' | 'logout' | 'backchannelLogout'>> {
  return new ApiProblem({
    status: 502,
    code: 'provider_unavailable',
    detail: 'The identity provider could not be reached.',
    cause,
    headers: { 'Retry-After': RETRY_AFTER_SECONDS },
  });
}

/**
 * The provider answers, and cannot be used as configured (its discovery
 * lists no token endpoint authentication method the configuration allows):
 * an operator must change one or the other. The log says which.
 */
export function providerNotUsable(cause: unknown): ApiProblem<ProblemOf<'startOidcLogin' | 'handleOidcCallback' | 'createSession'>> {
  return new ApiProblem({
    status: 502,
    code: 'provider_unavailable',
    detail: 'The identity provider cannot be used as this server is configured. The server log says why.',
    cause,
    headers: { 'Retry-After': RETRY_AFTER_SECONDS },
  });
}

export function serviceUnavailable(detail: string, cause?: unknown, retryAfterSeconds = RETRY_AFTER_SECONDS): ApiProblem<ProblemOf<'getReadiness'>> {
  return new ApiProblem({ status: 503, code: 'service_unavailable', detail, cause, headers: { 'Retry-After': retryAfterSeconds } });
}

/** A pool that has no free connection, or a database that does not answer, passes soon: the client retries shortly. */
const DATABASE_RETRY_AFTER_SECONDS = 1;

export function databaseUnavailable(cause: unknown): ApiProblem<ProblemOf<'getReadiness'>> {
  return serviceUnavailable('The database is busy or does not answer.', cause, DATABASE_RETRY_AFTER_SECONDS);
}

/** A full or read-only disk waits for an operator: clients back off longer than for a busy database. */
const STORAGE_RETRY_AFTER_SECONDS = 10;

export function storageUnavailable(cause: unknown): ApiProblem<ProblemOf<'getReadiness'>> {
  return serviceUnavailable('The server cannot write now: its storage is full or read-only. Try again later.', cause, STORAGE_RETRY_AFTER_SECONDS);
}
