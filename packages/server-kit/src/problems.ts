import type { OperationId, ProblemCode, ValidationIssue } from '@aimable/auth-openapi';
import type { Response } from 'express';
import type { OperationProblems } from './gen/handlers.gen.js';
import { writeAnswer } from './answer.js';

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
  insufficient_scope: 'Insufficient scope',
  origin_not_allowed: 'Origin not allowed',
  invalid_access_token: 'Invalid access token',
  invalid_refresh_token: 'Invalid refresh token',
  refresh_token_reused: 'Refresh token reused',
  session_expired: 'Session expired',
  invalid_logout_token: 'Invalid logout token',
  not_found: 'Not found',
  method_not_allowed: 'Method not allowed',
  payload_too_large: 'Payload too large',
  unsupported_media_type: 'Unsupported media type',
  rate_limited: 'Too many requests',
  provider_unavailable: 'Provider unavailable',
  internal_error: 'Internal server error',
  service_unavailable: 'Service unavailable',
};

export const PROBLEM_TYPE_BASE = 'https://auth.aimable.dev/problems/';

/** A problem as the contract declares it for some operation: a status, one of its codes, and its headers. */
export interface ProblemShape {
  status: number;
  code: ProblemCode;
  headers?: Record<string, string | number | undefined>;
}

/** Every problem some operation declares. */
export type AnyProblem = OperationProblems[OperationId];

type UnionToIntersection<U> = (U extends unknown ? (k: U) => void : never) extends (k: infer I) => void ? I : never;

/**
 * The problems that every one of `Op` declares: what a throw site that
 * serves these operations may throw. `ProblemOf<'refreshSession'>` allows a
 * `401` with `session_expired` and its `WWW-Authenticate`, and no `401`
 * with `rate_limited`.
 */
export type ProblemOf<Op extends OperationId> = UnionToIntersection<Op extends OperationId ? [OperationProblems[Op]] : never> extends [infer P] ? P : never;

export type ProblemInit<P extends ProblemShape = AnyProblem> = P & {
  /** Shown to the client. Never put secrets, tokens or internal detail here. */
  detail?: string;
  errors?: ValidationIssue[];
  /** Why, for the log only. Never sent to the client. */
  cause?: unknown;
};

/**
 * A failure that becomes a problem response. Its type parameter is what
 * the throw site may answer: by default any problem some operation
 * declares, narrowed with `ProblemOf<'operationId'>`, so that a status or
 * code the operation does not declare, or a missing required header, does
 * not compile. At run time, with response validation on, the router checks
 * it against the operation actually called.
 *
 * The client sees `code`, `status` and `detail`; `cause` goes to the log
 * only. A 5xx problem is never exposed: its client-facing detail is replaced
 * by a generic one.
 */
export class ApiProblem<P extends ProblemShape = AnyProblem> extends Error {
  readonly status: P['status'];
  readonly code: P['code'];
  readonly detail: string | undefined;
  readonly errors: ValidationIssue[] | undefined;
  readonly headers: Record<string, string>;
  readonly expose: boolean;

  constructor(init: NoInfer<ProblemInit<P>>) {
    super(init.detail ?? PROBLEM_TITLES[init.code], { cause: init.cause });
    this.name = 'ApiProblem';
    this.status = init.status;
    this.code = init.code;
    this.detail = init.detail;
    this.errors = init.errors;
    this.headers = Object.fromEntries(Object.entries(init.headers ?? {}).flatMap(([name, value]) => (value === undefined ? [] : [[name, String(value)]])));
    this.expose = init.status < 500;
  }

  /** A problem the router itself raises (validation, routing, limits); checked at run time only. */
  static of(init: ProblemInit<ProblemShape>): ApiProblem<ProblemShape> {
    return new ApiProblem<ProblemShape>(init);
  }
}

/** The RFC 9457 document of a problem. */
export interface ProblemDocument {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance: string;
  code: ProblemCode;
  request_id: string;
  errors?: ValidationIssue[];
}

/** Builds the RFC 9457 document for a problem. */
export function problemDocument(problem: ApiProblem<ProblemShape>, requestId: string, instance: string): ProblemDocument {
  const detail = problem.expose ? problem.detail : 'An unexpected error occurred. Quote the request id when reporting it.';
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
export function sendProblem(res: Response, problem: ApiProblem<ProblemShape>, document: ProblemDocument): void {
  writeAnswer(res, problem.status, problem.headers, { contentType: 'application/problem+json; charset=utf-8', text: JSON.stringify(document) });
}
