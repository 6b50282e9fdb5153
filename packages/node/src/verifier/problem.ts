import { AccessTokenError } from './errors.js';

/**
 * The answer to a request whose access token is not accepted, as the auth
 * server itself answers one: RFC 9457 `application/problem+json` with the
 * server's `type`, `title` and `code`, and the RFC 6750 §3 challenge. The
 * client learns that the token was refused, never why: the reason is in
 * the error, for the log.
 */
export interface AccessTokenProblem {
  status: 401 | 503;
  headers: Record<string, string>;
  body: AccessTokenProblemDocument;
}

/** RFC 9457, with the auth server's `code` and `request_id`. */
export interface AccessTokenProblemDocument {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance: string;
  code: 'invalid_access_token' | 'service_unavailable';
  request_id: string;
}

export interface ProblemContext {
  /** The request's path, without its query: the query may carry what the log must not (RFC 6749 codes, tokens). */
  instance: string;
  /** The request's `X-Request-Id`, for the client to quote; a fresh one when the request has none (or an odd one). */
  requestId: string | undefined;
  /** The `realm` of the `WWW-Authenticate` challenge. Default `aimable-auth`, the server's. */
  realm?: string;
}

/** The server's realm: the challenge `requireAuth` sends when none is given, as RFC 6750 §3 wants one auth-param at least. */
export const DEFAULT_REALM = 'aimable-auth';

/** The path of a request target (`/api/me?x=1` → `/api/me`). */
export function pathOf(target: string): string {
  const end = target.search(/[?#]/);
  return end === -1 ? target : target.slice(0, end);
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json; charset=utf-8';

/** The auth server's base of problem `type`s: a client that knows the server's problems knows these. */
const PROBLEM_TYPE_BASE = 'https://auth.aimable.dev/problems/';
/** A request id taken from the request's `X-Request-Id`: one a proxy or the auth client set, not arbitrary text. */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
/** Seconds a client waits before retrying when the issuer's keys could not be read. */
const RETRY_AFTER_SECONDS = 5;

export function accessTokenProblem(error: AccessTokenError, context: ProblemContext): AccessTokenProblem {
  const requestId = context.requestId !== undefined && REQUEST_ID.test(context.requestId) ? context.requestId : crypto.randomUUID();
  if (error.status === 503) {
    return {
      status: 503,
      headers: { 'Content-Type': PROBLEM_CONTENT_TYPE, 'Retry-After': String(RETRY_AFTER_SECONDS) },
      body: document('service_unavailable', 'Service unavailable', 503, 'The access token cannot be verified now. Retry after the time given.', context.instance, requestId),
    };
  }
  const realm = `realm="${context.realm ?? DEFAULT_REALM}"`;
  // RFC 6750 §3.1: a request without credentials gets no error code; §3: the challenge still carries an auth-param.
  const challenge = error.code === 'missing_token' ? ['Bearer', realm] : ['Bearer', `${realm}, error="invalid_token"`];
  const detail = error.code === 'missing_token' ? 'Authorization is missing.' : 'The access token is missing, invalid or expired.';
  return {
    status: 401,
    headers: { 'Content-Type': PROBLEM_CONTENT_TYPE, 'WWW-Authenticate': challenge.join(' ') },
    body: document('invalid_access_token', 'Invalid access token', 401, detail, context.instance, requestId),
  };
}

function document(code: AccessTokenProblemDocument['code'], title: string, status: number, detail: string, instance: string, requestId: string): AccessTokenProblemDocument {
  return { type: `${PROBLEM_TYPE_BASE}${code}`, title, status, detail, instance, code, request_id: requestId };
}

/**
 * The Fetch API `Response` for a refused token (Next.js route handlers,
 * Hono, edge functions); any other error is thrown again.
 */
export function accessTokenProblemResponse(error: unknown, request: Request, options: { realm?: string } = {}): Response {
  if (!(error instanceof AccessTokenError)) throw error;
  const url = new URL(request.url);
  const problem = accessTokenProblem(error, { instance: url.pathname, requestId: request.headers.get('x-request-id') ?? undefined, ...options });
  return new Response(JSON.stringify(problem.body), { status: problem.status, headers: problem.headers });
}
