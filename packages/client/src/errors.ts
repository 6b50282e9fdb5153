import type * as api from '@aimable/auth-openapi';
import type { Problem, ProblemCode } from '@aimable/auth-openapi';

/** The codes this client knows: every code of its contract version (complete by construction). */
const KNOWN: Record<ProblemCode, true> = {
  invalid_request: true,
  unknown_tenant: true,
  unknown_provider: true,
  redirect_uri_not_allowed: true,
  invalid_state: true,
  invalid_grant: true,
  idempotency_key_missing: true,
  idempotency_key_in_use: true,
  idempotency_key_reused: true,
  invalid_api_key: true,
  insufficient_scope: true,
  origin_not_allowed: true,
  invalid_access_token: true,
  invalid_refresh_token: true,
  refresh_token_reused: true,
  session_expired: true,
  invalid_logout_token: true,
  not_found: true,
  method_not_allowed: true,
  payload_too_large: true,
  unsupported_media_type: true,
  rate_limited: true,
  provider_unavailable: true,
  internal_error: true,
  service_unavailable: true,
};
const KNOWN_CODES: ReadonlySet<string> = new Set(Object.keys(KNOWN));

/**
 * The operations of the contract, each with the problems it declares: a new
 * operation fails to compile here until it is added.
 */
export interface OperationErrors {
  startOidcLogin: api.StartOidcLoginErrors;
  handleOidcCallback: api.HandleOidcCallbackErrors;
  receiveOidcFormPost: api.ReceiveOidcFormPostErrors;
  backchannelLogout: api.BackchannelLogoutErrors;
  createSession: api.CreateSessionErrors;
  refreshSession: api.RefreshSessionErrors;
  getCurrentSession: api.GetCurrentSessionErrors;
  logout: api.LogoutErrors;
  listSessions: api.ListSessionsErrors;
  revokeSession: api.RevokeSessionErrors;
  listProviders: api.ListProvidersErrors;
  listAuditEvents: api.ListAuditEventsErrors;
  getJwks: api.GetJwksErrors;
  getHealth: api.GetHealthErrors;
  getReadiness: api.GetReadinessErrors;
  getOpenApiDocument: api.GetOpenApiDocumentErrors;
  getApiReference: api.GetApiReferenceErrors;
  getApiReferenceScript: api.GetApiReferenceScriptErrors;
}
export type OperationId = keyof OperationErrors;

/**
 * What an error is about: a code of the contract, or a typed fallback.
 * `unrecognized_problem`: a problem with a code this client does not know
 * (the contract may add codes; `problem.code` keeps the original).
 * `unexpected_response`: an error answer that is not a problem document.
 * `network_error`: no answer at all (offline, DNS, refused, aborted); `cause` says why.
 */
export type AuthErrorCode = ProblemCode | Fallback;
type Fallback = 'unrecognized_problem' | 'unexpected_response' | 'network_error';

/** The codes one operation's problems may carry, and the fallbacks. */
export type AuthErrorCodeOf<Op extends OperationId> = (Op extends OperationId ? CodesOf<OperationErrors[Op]> : never) | Fallback;
type CodesOf<Errors> = Errors[keyof Errors] extends infer P ? (P extends { code: infer C } ? C : never) : never;

/**
 * An error answer of the Aimable Auth API, or no answer at all. Branch on
 * `code`; a `switch` over it is exhaustive with the fallbacks. `status` is
 * the HTTP status (0 for a network error); `operation`, the call that failed.
 */
export class AuthApiError extends Error {
  override readonly name = 'AuthApiError';
  readonly status: number;
  readonly code: AuthErrorCode;
  readonly operation: OperationId | undefined;
  /** The RFC 9457 problem document, when the server sent one, with its code as sent. */
  readonly problem: Problem | undefined;
  readonly requestId: string | undefined;
  /** The answer; undefined for a network error. */
  readonly response: Response | undefined;

  constructor(response: Response | undefined, body: unknown, operation?: OperationId, cause?: unknown) {
    const problem = isProblem(body) ? body : undefined;
    super(problem?.detail ?? problem?.title ?? (response ? `Unexpected response ${response.status} from ${response.url}` : `No answer: ${String((cause as Error | undefined)?.message ?? cause)}`), { cause });
    this.status = response?.status ?? 0;
    this.code = (response === undefined ? 'network_error' : problem === undefined ? 'unexpected_response' : KNOWN_CODES.has(problem.code) ? problem.code : 'unrecognized_problem');
    this.operation = operation;
    this.problem = problem;
    this.requestId = problem?.request_id ?? response?.headers.get('x-request-id') ?? undefined;
    this.response = response;
  }
}

/**
 * Whether `error` is an {@link AuthApiError}: of the given operation (its
 * `code` narrowed to that operation's codes), or with one of the given codes.
 */
export function isAuthApiError<Op extends OperationId>(error: unknown, operation: Op): error is AuthApiError & { operation: Op; code: AuthErrorCodeOf<Op> };
export function isAuthApiError<C extends AuthErrorCode>(error: unknown, ...codes: C[]): error is AuthApiError & { code: C };
export function isAuthApiError(error: unknown, ...filter: string[]): boolean {
  if (!(error instanceof AuthApiError)) return false;
  if (filter.length === 0) return true;
  return filter.includes(error.code) || (filter.length === 1 && filter[0] === error.operation);
}

function isProblem(body: unknown): body is Problem {
  if (typeof body !== 'object' || body === null) return false;
  const candidate = body as Record<string, unknown>;
  return typeof candidate.code === 'string' && typeof candidate.status === 'number' && typeof candidate.title === 'string';
}
