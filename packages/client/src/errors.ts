import type { Problem, ProblemCode } from './gen/types.gen.js';

/**
 * An error answer of the Aimable Auth API. Branch on `code`, which comes
 * from the contract's closed `ProblemCode` enum; `status` is the HTTP status.
 */
export class AuthApiError extends Error {
  override readonly name = 'AuthApiError';
  readonly status: number;
  /** The problem's code, or `unexpected_response` when the body was not a problem document. */
  readonly code: ProblemCode | 'unexpected_response';
  /** The RFC 9457 problem document, when the server sent one. */
  readonly problem: Problem | undefined;
  readonly requestId: string | undefined;
  readonly response: Response;

  constructor(response: Response, body: unknown) {
    const problem = isProblem(body) ? body : undefined;
    super(problem?.detail ?? problem?.title ?? `Unexpected response ${response.status} from ${response.url}`);
    this.status = response.status;
    this.code = problem?.code ?? 'unexpected_response';
    this.problem = problem;
    this.requestId = problem?.request_id ?? response.headers.get('x-request-id') ?? undefined;
    this.response = response;
  }
}

/** Whether `error` is an {@link AuthApiError}, optionally with one of the given codes. */
export function isAuthApiError(error: unknown, ...codes: ProblemCode[]): error is AuthApiError {
  if (!(error instanceof AuthApiError)) return false;
  return codes.length === 0 || codes.includes(error.code as ProblemCode);
}

function isProblem(body: unknown): body is Problem {
  if (typeof body !== 'object' || body === null) return false;
  const candidate = body as Record<string, unknown>;
  return typeof candidate.code === 'string' && typeof candidate.status === 'number' && typeof candidate.title === 'string';
}
