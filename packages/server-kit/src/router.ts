import { randomUUID } from 'node:crypto';
import { parse as parseCookies } from 'cookie';
import express, { Router, type ErrorRequestHandler, type Request, type RequestHandler, type Response } from 'express';
import * as OpenApiValidator from 'express-openapi-validator';
import type { OperationDescriptor, SecuritySchemeDescriptor } from './descriptor.js';
import {
  operations,
  securitySchemes,
  type DefaultPrincipals,
  type Handlers,
  type OperationId,
  type Principals,
  type SecuritySchemeName,
} from './gen/operations.gen.js';
import { openApiDocument } from './gen/spec.gen.js';
import type { ProblemCode, ValidationIssue } from './gen/types/types.gen.js';
import { ApiProblem, sendProblem } from './problems.js';

/**
 * Turns a scheme's credential into what handlers receive as
 * `input.security`, or refuses it by throwing an `ApiProblem` (a 401 with
 * the scheme's code, a 403). It runs after the request is validated and
 * before the handler: nothing a handler does happens for a refused caller.
 */
export type SecurityResolver<T> = (request: { credential: string; req: Request; res: Response; operation: OperationDescriptor }) => T | Promise<T>;

export type SecurityResolvers<P extends Principals> = { [K in SecuritySchemeName]: SecurityResolver<P[K]> };

export interface ApiRouterOptions<P extends Principals = DefaultPrincipals> {
  /**
   * The security step: one resolver per scheme of the contract. Without
   * them, a scheme resolves to its credential as sent, and a missing one is
   * refused with the scheme's 401.
   */
  security?: SecurityResolvers<P>;
  /**
   * Middleware that runs first, before the body is read and the request
   * validated (CORS, for example). What it throws is answered as a problem.
   */
  before?: RequestHandler[];
  /**
   * Middleware for one operation that runs after `before`, still before the
   * request is validated and its caller resolved: rate limits, so that a
   * refusal costs little and guessing credentials is limited too.
   */
  beforeOperation?: Partial<Record<OperationId, RequestHandler[]>>;
  /**
   * Validate every response against the contract. A response that violates
   * it becomes a 500 `internal_error` and is reported to `onError`.
   * On in development and in tests. Default: false.
   */
  validateResponses?: boolean;
  /** Largest accepted JSON body. Default: `16kb`. */
  bodyLimit?: string;
  /**
   * Told of every error that became a problem response, with the original
   * error (which may carry private detail) and the problem the client got.
   */
  onError?: (error: unknown, problem: ApiProblem, req: Request) => void;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The request id of a request: set by the router, for handlers and loggers. */
export function requestIdOf(res: Response): string {
  return (res.locals.requestId as string | undefined) ?? 'unknown';
}

/**
 * Mounts the contract: validates every request with
 * `express-openapi-validator` before a handler sees it, dispatches to the
 * typed handlers, and writes every failure as an RFC 9457 problem.
 */
export function createApiRouter(handlers: Handlers, options?: ApiRouterOptions): Router;
export function createApiRouter<P extends Principals>(handlers: Handlers<P>, options: ApiRouterOptions<P> & { security: SecurityResolvers<P> }): Router;
export function createApiRouter(handlers: Handlers<Principals>, options: ApiRouterOptions<Principals> = {}): Router {
  const router = Router();
  router.use(assignRequestId);
  for (const middleware of options.before ?? []) router.use(middleware);
  for (const descriptor of operations) {
    const middleware = options.beforeOperation?.[descriptor.operationId] ?? [];
    if (middleware.length > 0) router[descriptor.method](descriptor.expressPath, ...middleware);
  }
  router.use(express.json({ limit: options.bodyLimit ?? '16kb', type: ['application/json', 'application/*+json'] }));
  router.use(readCookies);
  router.use(
    OpenApiValidator.middleware({
      apiSpec: validatorDocument() as never,
      validateRequests: { allowUnknownQueryParameters: false, removeAdditional: false, coerceTypes: false },
      validateResponses: options.validateResponses ? { removeAdditional: false } : false,
      // The security step below resolves credentials, with each scheme's own problem code.
      validateSecurity: false,
      ignoreUndocumented: false,
      validateFormats: true,
    }),
  );
  const resolvers = options.security ?? credentialsAsSent;
  for (const descriptor of operations) {
    router[descriptor.method](descriptor.expressPath, dispatch(handlers, descriptor, resolvers));
  }
  router.use(writeProblem(options));
  return router;
}

/**
 * The contract as the validator reads it. An operation marked
 * `x-unknown-query-parameters: ignore` (the OIDC callback: RFC 6749 §4.1.2
 * has clients ignore response parameters they do not know) accepts
 * parameters it does not declare; every other operation refuses them.
 */
function validatorDocument(): Record<string, unknown> {
  const document = structuredClone(openApiDocument) as { paths: Record<string, Record<string, Record<string, unknown>>> };
  for (const item of Object.values(document.paths)) {
    for (const operation of Object.values(item)) {
      if (operation['x-unknown-query-parameters'] === 'ignore') operation['x-eov-allow-unknown-query-parameters'] = true;
    }
  }
  return document;
}

const assignRequestId: RequestHandler = (req, res, next) => {
  const given = req.get('x-request-id');
  const requestId = given && REQUEST_ID.test(given) ? given : randomUUID();
  res.locals.requestId = requestId;
  res.setHeader('X-Request-Id', requestId);
  next();
};

const readCookies: RequestHandler = (req, _res, next) => {
  const header = req.get('cookie');
  (req as Request & { cookies: Record<string, string | undefined> }).cookies = header ? parseCookies(header) : {};
  next();
};

const credentialsAsSent: SecurityResolvers<Principals> = {
  ApiKey: ({ credential }) => credential,
  BearerAuth: ({ credential }) => credential,
};

/** The credential of a scheme as the request carries it, if it does. */
function credentialOf(scheme: SecuritySchemeDescriptor, req: Request): string | undefined {
  const name = scheme.parameter ?? '';
  if (scheme.type === 'http') {
    const [kind, value] = (req.get('authorization') ?? '').split(/\s+/, 2);
    return kind?.toLowerCase() === scheme.scheme?.toLowerCase() && value ? value : undefined;
  }
  const sent = scheme.in === 'query' ? req.query[name] : scheme.in === 'cookie' ? (req as Request & { cookies: Record<string, string> }).cookies[name] : req.get(name);
  return typeof sent === 'string' && sent !== '' ? sent : undefined;
}

/**
 * Resolves the caller for an operation's security: the first requirement
 * whose schemes all resolve wins; when none does, the first refusal is
 * answered.
 */
async function resolveSecurity(descriptor: OperationDescriptor, resolvers: SecurityResolvers<Principals>, req: Request, res: Response): Promise<Record<string, unknown>> {
  let refusal: unknown;
  for (const requirement of descriptor.security) {
    try {
      const principals: Record<string, unknown> = {};
      for (const name of requirement as SecuritySchemeName[]) {
        const scheme = securitySchemes[name];
        const credential = credentialOf(scheme, req);
        if (credential === undefined) {
          const challenge = scheme.type === 'http' && scheme.scheme ? { 'WWW-Authenticate': `${pascalCase(scheme.scheme)}` } : undefined;
          throw new ApiProblem({ status: 401, code: scheme.problemCode as ProblemCode, detail: `${scheme.parameter} is missing.`, headers: challenge });
        }
        principals[name] = await resolvers[name]({ credential, req, res, operation: descriptor });
      }
      return principals;
    } catch (error) {
      refusal ??= error;
    }
  }
  if (refusal !== undefined) throw refusal;
  return {};
}

function pascalCase(word: string): string {
  return word.charAt(0).toUpperCase() + word.slice(1);
}

function dispatch(handlers: Handlers<Principals>, descriptor: OperationDescriptor<OperationId>, resolvers: SecurityResolvers<Principals>): RequestHandler {
  const handler = handlers[descriptor.operationId].bind(handlers) as (input: unknown, context: unknown) => unknown;
  return async (req, res) => {
    const security = await resolveSecurity(descriptor, resolvers, req, res);
    const cookies = (req as Request & { cookies: Record<string, string | undefined> }).cookies;
    const input = {
      security,
      path: pick(req.params, descriptor.parameters.path),
      query: pick(req.query as Record<string, unknown>, descriptor.parameters.query),
      headers: Object.fromEntries(
        descriptor.parameters.header.flatMap((name) => {
          const value = req.get(name);
          return value === undefined ? [] : [[name, value]];
        }),
      ),
      cookies: pick(cookies, descriptor.parameters.cookie),
      body: descriptor.hasBody ? req.body : undefined,
    };
    const result = (await handler(input, { requestId: requestIdOf(res), req, res })) as {
      status: number;
      body?: unknown;
      headers?: Record<string, string | string[] | number | undefined>;
    };
    for (const [name, value] of Object.entries(result.headers ?? {})) {
      if (value !== undefined) res.setHeader(name, typeof value === 'number' ? String(value) : value);
    }
    res.status(result.status);
    if (result.body === undefined) {
      res.end();
      return;
    }
    res.type(descriptor.responseContentTypes[result.status] ?? 'application/json');
    res.json(result.body);
  };
}

function pick(source: Record<string, unknown> | undefined, names: string[]): Record<string, unknown> {
  const picked: Record<string, unknown> = {};
  for (const name of names) {
    if (source?.[name] !== undefined) picked[name] = source[name];
  }
  return picked;
}

function writeProblem(options: Pick<ApiRouterOptions<Principals>, 'onError'>): ErrorRequestHandler {
  return (error, req, res, next) => {
    if (res.headersSent) {
      next(error);
      return;
    }
    const problem = toProblem(error, req);
    options.onError?.(error, problem, req);
    sendProblem(res, problem, requestIdOf(res), req.originalUrl.split('?', 1)[0] ?? '/');
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
function toProblem(error: unknown, req: Request): ApiProblem {
  if (error instanceof ApiProblem) return error;
  const bodyParserType = (error as { type?: unknown } | null)?.type;
  if (typeof bodyParserType === 'string' && (error as { status?: number }).status! < 500) {
    const detail = bodyParserType === 'entity.too.large' ? 'The request body is too large.' : 'The request body is not valid JSON.';
    return new ApiProblem({ status: 400, code: 'invalid_request', detail, errors: [{ location: 'body', message: detail }], cause: error });
  }
  if (!isValidatorError(error)) return new ApiProblem({ status: 500, code: 'internal_error', cause: error });

  const issues: ValidationIssue[] = (error.errors ?? []).map((issue) => ({
    location: locationOf(issue.path),
    message: issue.message ?? 'is invalid',
  }));
  const descriptor = descriptorOf(req);
  switch (error.status) {
    case 400: {
      const codes = new Set(issues.map((issue) => descriptor?.parameterProblemCodes[issue.location.toLowerCase()]));
      const [only] = codes;
      const code = codes.size === 1 && only ? (only as ProblemCode) : 'invalid_request';
      return new ApiProblem({ status: 400, code, detail: summarize(issues), errors: issues, cause: error });
    }
    case 404:
      return new ApiProblem({ status: 404, code: 'not_found', detail: 'No such route.', cause: error });
    case 405:
      return new ApiProblem({ status: 405, code: 'method_not_allowed', detail: 'The route does not accept this method.', cause: error });
    case 413:
      return new ApiProblem({ status: 400, code: 'invalid_request', detail: 'The request body is too large.', cause: error });
    case 415:
      return new ApiProblem({ status: 415, code: 'unsupported_media_type', detail: 'Send the body as application/json.', cause: error });
    default:
      return error.status < 500
        ? new ApiProblem({ status: 400, code: 'invalid_request', detail: summarize(issues), errors: issues, cause: error })
        : new ApiProblem({ status: 500, code: 'internal_error', cause: error });
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

function descriptorOf(req: Request): OperationDescriptor | undefined {
  const operationId = (req as Request & { openapi?: { schema?: { operationId?: string } } }).openapi?.schema?.operationId;
  return operations.find((descriptor) => descriptor.operationId === operationId);
}
