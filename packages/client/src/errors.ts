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
  origin_not_allowed: true,
  invalid_access_token: true,
  invalid_refresh_token: true,
  refresh_token_reused: true,
  session_expired: true,
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
 * What an error is about: a code of the contract, or a typed fallback.
 * `unrecognized_problem`: a problem with a code this client does not know
 * (the contract may add codes; `problem.code` keeps the original).
 * `unexpected_response`: an error answer that is not a problem document.
 */
export type AuthErrorCode = ProblemCode | 'unrecognized_problem' | 'unexpected_response';

/**
 * An error answer of the Aimable Auth API. Branch on `code`; a `switch`
 * over it is exhaustive with the two fallbacks. `status` is the HTTP status.
 */
export class AuthApiError extends Error {
  override readonly name = 'AuthApiError';
  readonly status: number;
  readonly code: AuthErrorCode;
  /** The RFC 9457 problem document, when the server sent one, with its code as sent. */
  readonly problem: Problem | undefined;
  readonly requestId: string | undefined;
  readonly response: Response;

  constructor(response: Response, body: unknown) {
    const problem = isProblem(body) ? body : undefined;
    super(problem?.detail ?? problem?.title ?? `Unexpected response ${response.status} from ${response.url}`);
    this.status = response.status;
    this.code = problem === undefined ? 'unexpected_response' : KNOWN_CODES.has(problem.code) ? (problem.code as ProblemCode) : 'unrecognized_problem';
    this.problem = problem;
    this.requestId = problem?.request_id ?? response.headers.get('x-request-id') ?? undefined;
    this.response = response;
  }
}

/** Whether `error` is an {@link AuthApiError}, optionally with one of the given codes. */
export function isAuthApiError(error: unknown, ...codes: AuthErrorCode[]): error is AuthApiError {
  if (!(error instanceof AuthApiError)) return false;
  return codes.length === 0 || codes.includes(error.code);
}

function isProblem(body: unknown): body is Problem {
  if (typeof body !== 'object' || body === null) return false;
  const candidate = body as Record<string, unknown>;
  return typeof candidate.code === 'string' && typeof candidate.status === 'number' && typeof candidate.title === 'string';
}
