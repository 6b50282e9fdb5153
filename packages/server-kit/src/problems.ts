import type { Response } from 'express';
import type { Problem, ProblemCode, ValidationIssue } from './gen/types/types.gen.js';

/** The title of each problem code: one place, complete by construction. */
export const PROBLEM_TITLES: Record<ProblemCode, string> = {
  invalid_request: 'Invalid request',
  unknown_tenant: 'Unknown tenant',
  unknown_provider: 'Unknown provider',
  redirect_uri_not_allowed: 'Redirect URI not allowed',
  invalid_state: 'Invalid state',
  invalid_grant: 'Invalid grant',
  idempotency_key_missing: 'Idempotency key missing',
  idempotency_key_in_use: 'Idempotency key in use',
  idempotency_key_reused: 'Idempotency key reused',
  invalid_api_key: 'Invalid API key',
  origin_not_allowed: 'Origin not allowed',
  invalid_access_token: 'Invalid access token',
  invalid_refresh_token: 'Invalid refresh token',
  refresh_token_reused: 'Refresh token reused',
  session_expired: 'Session expired',
  not_found: 'Not found',
  method_not_allowed: 'Method not allowed',
  unsupported_media_type: 'Unsupported media type',
  rate_limited: 'Too many requests',
  provider_unavailable: 'Provider unavailable',
  internal_error: 'Internal server error',
  service_unavailable: 'Service unavailable',
};

export const PROBLEM_TYPE_BASE = 'https://auth.aimable.dev/problems/';

export interface ProblemInit {
  status: number;
  code: ProblemCode;
  /** Shown to the client. Never put secrets, tokens or internal detail here. */
  detail?: string;
  errors?: ValidationIssue[];
  headers?: Record<string, string>;
  /** Why, for the log only. Never sent to the client. */
  cause?: unknown;
}

/**
 * A failure that becomes a problem response. The client sees `code`,
 * `status` and `detail`; `cause` goes to the log only. A 5xx problem is
 * never exposed: its client-facing detail is replaced by a generic one.
 */
export class ApiProblem extends Error {
  readonly status: number;
  readonly code: ProblemCode;
  readonly detail: string | undefined;
  readonly errors: ValidationIssue[] | undefined;
  readonly headers: Record<string, string>;
  readonly expose: boolean;

  constructor(init: ProblemInit) {
    super(init.detail ?? PROBLEM_TITLES[init.code], { cause: init.cause });
    this.name = 'ApiProblem';
    this.status = init.status;
    this.code = init.code;
    this.detail = init.detail;
    this.errors = init.errors;
    this.headers = init.headers ?? {};
    this.expose = init.status < 500;
  }
}

/** Builds the RFC 9457 document for a problem. */
export function problemDocument(problem: ApiProblem, requestId: string, instance: string): Problem {
  const detail = problem.expose
    ? problem.detail
    : 'An unexpected error occurred. Quote the request id when reporting it.';
  return {
    type: `${PROBLEM_TYPE_BASE}${problem.code}`,
    title: PROBLEM_TITLES[problem.code],
    status: problem.status,
    ...(detail === undefined ? {} : { detail }),
    instance,
    code: problem.code,
    request_id: requestId,
    ...(problem.expose && problem.errors ? { errors: problem.errors } : {}),
  };
}

/** Writes a problem as `application/problem+json`: the one way errors leave the server. */
export function sendProblem(res: Response, problem: ApiProblem, requestId: string, instance: string): void {
  for (const [name, value] of Object.entries(problem.headers)) res.setHeader(name, value);
  res.status(problem.status).type('application/problem+json').send(JSON.stringify(problemDocument(problem, requestId, instance)));
}
