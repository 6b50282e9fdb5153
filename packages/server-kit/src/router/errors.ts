import type { ValidationIssue } from '@aimable/auth-openapi';
import type { ContractJudge } from '@aimable/auth-openapi/judge';
import type { ErrorRequestHandler, Request, Response } from 'express';
import type { Principals } from '../gen/handlers.gen.js';
import { ApiProblem, problemDocument, sendProblem, type ProblemShape } from '../problems.js';
import type { ApiRouterOptions } from './options.js';
import { requestIdOf } from './request-id.js';
import { violationOf } from './response-checks.js';
import { operationWithId } from './routes.js';

type ProblemOptions = Pick<ApiRouterOptions<Principals>, 'onError' | 'translateError' | 'settle'>;

/**
 * Answers every error as an RFC 9457 problem, after `settle`, checked
 * against the contract (with a judge): the one way a failure leaves the
 * router. On an answer already started, the error goes on to Express.
 */
export function writeProblem(options: ProblemOptions, judge: ContractJudge | undefined): ErrorRequestHandler {
  const answer = answerProblem(options, judge);
  const { settle } = options;
  if (!settle) return answer;
  // A refusal may follow a write (a reused token revokes its session): it waits for the same sync; a failed sync is what is answered.
  const answerSafely = (error: unknown, req: Request, res: Response, next: (error?: unknown) => void) => {
    try {
      answer(error, req, res, next);
    } catch (thrown) {
      next(thrown);
    }
  };
  return (error, req, res, next) => {
    settle().then(
      () => answerSafely(error, req, res, next),
      (failure: unknown) => answerSafely(failure, req, res, next),
    );
  };
}

function answerProblem(options: ProblemOptions, judge: ContractJudge | undefined): ErrorRequestHandler {
  return (error, req, res, next) => {
    if (res.headersSent) {
      next(error);
      return;
    }
    let problem = (error instanceof ApiProblem ? undefined : options.translateError?.(error)) ?? toProblem(error, req);
    const operationId = res.locals.operationId as string | undefined;
    const instance = req.originalUrl.split('?', 1)[0] ?? '/';
    let document = problemDocument(problem, requestIdOf(res), instance);
    let reported = error;
    const violation = judge && violationOf(judge, { operationId, status: problem.status, headers: { ...problem.headers, 'content-type': 'application/problem+json' }, body: document });
    if (violation) {
      reported = violation;
      problem = ApiProblem.of({ status: 500, code: 'internal_error', cause: error });
      document = problemDocument(problem, requestIdOf(res), instance);
    }
    options.onError?.(reported, problem, req);
    sendProblem(res, problem, document);
  };
}

interface ValidatorError {
  status: number;
  errors?: { path?: string; message?: string }[];
}

function isValidatorError(error: unknown): error is ValidatorError {
  return typeof error === 'object' && error !== null && typeof (error as ValidatorError).status === 'number' && Array.isArray((error as ValidatorError).errors);
}

/** Translates any error into the problem the client sees. */
function toProblem(error: unknown, req: Request): ApiProblem<ProblemShape> {
  if (error instanceof ApiProblem) return error as ApiProblem<ProblemShape>;
  // The router could not percent-decode a path segment (`/sessions/%zz`): the client's mistake.
  if (error instanceof URIError && (error as URIError & { status?: number }).status === 400) {
    return ApiProblem.of({ status: 400, code: 'invalid_request', detail: 'A path parameter is not valid percent-encoding.', cause: error });
  }
  if (!isValidatorError(error)) return ApiProblem.of({ status: 500, code: 'internal_error', cause: error });

  const issues: ValidationIssue[] = (error.errors ?? []).map((issue) => ({
    location: locationOf(issue.path),
    message: issue.message ?? 'is invalid',
  }));
  const operation = operationWithId(req.res?.locals.operationId as string | undefined);
  switch (error.status) {
    case 400: {
      const problemCodes = Object.fromEntries(
        (operation?.parameters ?? []).flatMap((p) => (p.problemCode ? [[`${p.in === 'header' ? 'headers' : p.in}.${p.in === 'header' ? p.name.toLowerCase() : p.name}`, p.problemCode]] : [])),
      );
      const codes = new Set(issues.map((issue) => problemCodes[issue.location.toLowerCase()]));
      const [only] = codes;
      const code = codes.size === 1 && only ? (only as ProblemShape['code']) : 'invalid_request';
      return ApiProblem.of({ status: 400, code, detail: summarize(issues), errors: issues, cause: error });
    }
    case 413:
      return ApiProblem.of({ status: 413, code: 'payload_too_large', detail: 'The request body is too large.', cause: error });
    case 415:
      return ApiProblem.of({ status: 415, code: 'unsupported_media_type', detail: 'Send the body as application/json.', cause: error });
    default:
      return error.status < 500
        ? ApiProblem.of({ status: 400, code: 'invalid_request', detail: summarize(issues), errors: issues, cause: error })
        : ApiProblem.of({ status: 500, code: 'internal_error', cause: error });
  }
}

/** `/body/code` or `.body.code` → `body.code`. */
function locationOf(path: string | undefined): string {
  return (path ?? '').replace(/^[./]/, '').replace(/\//g, '.') || 'request';
}

function summarize(issues: ValidationIssue[]): string {
  if (issues.length === 0) return 'The request does not match the contract.';
  return issues.map((issue) => `${issue.location} ${issue.message}`).join('; ');
}
