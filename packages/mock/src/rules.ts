import { ApiProblem, gatedOperationOf, type SecurityResolvers } from '@aimable/auth-server-kit';
import type { Request, RequestHandler, Response } from 'express';

/**
 * What the server decides from its own state, and the mock cannot know,
 * decided here by documented rules: requests the server refuses for their
 * form alone are refused by the kit's gate, with the server's own code.
 */

/** The demo's key (`pnpm demo --mock`), accepted beside any key starting `ak_mock_`. */
export const DEMO_API_KEY = 'ak_demo_local_only_0c7f3b9a6e2d41f8';

/** What the server's challenges say, so that a refusal reads the same from the mock. */
const REALM = 'aimable-auth';
export const MOCK_CHALLENGES = {
  ApiKey: `ApiKey realm="${REALM}", header="X-API-Key"`,
  BearerAuth: `Bearer realm="${REALM}"`,
} as const;

/** A bearer token of a JWT's shape: three base64url parts, as every access token the server issues. */
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/**
 * API keys: the mock has no tenants file, so it accepts the demo's key and
 * any key starting `ak_mock_`, and answers the server's 401 to any other.
 * Access tokens: it cannot verify a signature, so it accepts any token of
 * a JWT's shape (the examples' one, say) and refuses others as the server
 * refuses a malformed one.
 */
export const mockSecurity: SecurityResolvers<{ ApiKey: string; BearerAuth: string }> = {
  ApiKey: ({ credential }) => {
    if (credential === DEMO_API_KEY || credential.startsWith('ak_mock_')) return credential;
    throw new ApiProblem({ status: 401, code: 'invalid_api_key', detail: 'X-API-Key is not valid.', headers: { 'WWW-Authenticate': MOCK_CHALLENGES.ApiKey } });
  },
  BearerAuth: ({ credential }) => {
    if (JWT_SHAPE.test(credential)) return credential;
    throw new ApiProblem({
      status: 401,
      code: 'invalid_access_token',
      detail: 'The access token is missing, invalid or expired, or its session has ended.',
      headers: { 'WWW-Authenticate': `${MOCK_CHALLENGES.BearerAuth}, error="invalid_token"` },
    });
  },
};

/**
 * A `frontend_redirect_uri` the mock sends a browser to: it has no
 * allowlist, so it takes any absolute http(s) URL of printable ASCII (what
 * a `Location` can carry as is), and refuses the rest as not allowed, as
 * the server refuses whatever is not on the tenant's allowlist.
 */
export function isPlausibleRedirectUri(value: string): boolean {
  if (!/^[\x21-\x7E]+$/.test(value)) return false;
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

function invalidRequest(location: string, message: string): ApiProblem {
  return ApiProblem.of({ status: 400, code: 'invalid_request', detail: `${location} ${message}`, errors: [{ location, message }] }) as ApiProblem;
}

/** The tenant as the server reads it: the header, or the `tenant` query parameter where the operation takes one; both must agree. */
function checkTenant(req: Request, takesQuery: boolean): void {
  const header = req.get('x-tenant-id');
  const query = typeof req.query.tenant === 'string' ? req.query.tenant : undefined;
  if (header !== undefined && query !== undefined && header !== query) throw invalidRequest('query.tenant', 'differs from X-Tenant-Id; send one, or the same tenant in both');
  if (takesQuery && header === undefined && query === undefined) throw invalidRequest('headers.x-tenant-id', 'is required (or the tenant query parameter, for links and navigations)');
}

/** The start's checks after its tenant, in the server's order: the redirect URI, then PKCE as a tenant with the default policy has it. */
function checkStart(req: Request): void {
  const query = req.query as Record<string, string | undefined>;
  if (!isPlausibleRedirectUri(query.frontend_redirect_uri ?? '')) {
    throw new ApiProblem({ status: 400, code: 'redirect_uri_not_allowed', detail: "frontend_redirect_uri is not on the tenant's allowlist." });
  }
  if (query.code_challenge === undefined) throw invalidRequest('query.code_challenge', 'is required: create a random code_verifier, keep it, and send code_challenge=BASE64URL(SHA256(code_verifier)) with code_challenge_method=S256 (RFC 7636).');
  if (query.code_challenge_method !== 'S256') throw invalidRequest('query.code_challenge_method', 'must be S256 (without it, RFC 7636 §4.3 means plain, which is not accepted)');
}

/**
 * The callback on the mock carries the start's `frontend_redirect_uri` in
 * its own query (the server keeps it with the state): one the start would
 * have refused belongs to no state the mock gave out.
 */
function checkCallback(req: Request): void {
  const carried = req.query.frontend_redirect_uri;
  if (carried !== undefined && (typeof carried !== 'string' || !isPlausibleRedirectUri(carried))) {
    throw new ApiProblem({ status: 400, code: 'invalid_state', detail: 'The login state is unknown or expired. Start the login again.' });
  }
}

/**
 * Cursors are opaque to clients, but the server refuses one it could not
 * have issued (a position: a time and an id, base64url-encoded JSON); so
 * does the mock, whose examples' cursors are of that form.
 */
function checkCursor(req: Request): void {
  const cursor = req.query.cursor;
  if (typeof cursor !== 'string') return;
  try {
    const [at, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    if (Number.isSafeInteger(at) && typeof id === 'string') return;
  } catch {
    // refused below
  }
  throw invalidRequest('query.cursor', 'is not a cursor this API issued');
}

/** The server refuses a refresh that carries no refresh token, which the contract takes from a cookie or the body. */
function checkRefresh(req: Request): void {
  if (/(?:^|;\s*)__Host-aimable_refresh_[^=]+=[^;\s]/.test(req.get('cookie') ?? '')) return;
  if (typeof (req.body as { refresh_token?: unknown } | undefined)?.refresh_token === 'string') return;
  throw new ApiProblem({ status: 401, code: 'invalid_refresh_token', detail: 'Send the refresh token in the refresh cookie or the body.', headers: { 'WWW-Authenticate': MOCK_CHALLENGES.ApiKey } });
}

/** The mock's rules, after the gate: what they refuse is thrown as the problem the server would answer. */
export const mockRules: RequestHandler = (req: Request, res: Response, next) => {
  const operation = gatedOperationOf(res);
  if (!operation) {
    next();
    return;
  }
  checkTenant(req, operation.parameters.some((p) => p.in === 'query' && p.name === 'tenant'));
  if (operation.operationId === 'startOidcLogin') checkStart(req);
  if (operation.operationId === 'handleOidcCallback') checkCallback(req);
  if (operation.operationId === 'refreshSession') checkRefresh(req);
  if (operation.parameters.some((p) => p.in === 'query' && p.name === 'cursor')) checkCursor(req);
  next();
};
