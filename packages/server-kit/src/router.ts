import { randomUUID } from 'node:crypto';
import { openApiDocument, operations, securitySchemes, type OperationDescriptor, type OperationId, type SecuritySchemeDescriptor, type ValidationIssue } from '@aimable/auth-openapi';
import { ContractJudge, type Answer, type Violation } from '@aimable/auth-openapi/judge';
import { parse as parseCookies } from 'cookie';
import express, { type ErrorRequestHandler, type Request, type RequestHandler, type Response } from 'express';
import * as OpenApiValidator from 'express-openapi-validator';
import type { DefaultPrincipals, Handlers, Principals, SecuritySchemeName } from './gen/handlers.gen.js';
import { withCharset, writeAnswer } from './http.js';
import { ApiProblem, problemDocument, sendProblem, type ProblemShape } from './problems.js';

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
   * The challenge of each scheme's 401 (`WWW-Authenticate`), for the
   * credentials the router finds missing. Default: `Bearer` for bearer
   * schemes and `ApiKey header="…"` for API keys.
   */
  challenges?: Partial<Record<SecuritySchemeName, string>>;
  /**
   * Middleware that runs first, before the body is read and the request
   * validated (CORS, for example). What it throws is answered as a problem,
   * and must be one the operation the request is for declares.
   */
  before?: RequestHandler[];
  /**
   * Middleware for one operation that runs after `before`, still before the
   * request is validated and its caller resolved: rate limits, so that a
   * refusal costs little and guessing credentials is limited too.
   */
  beforeOperation?: Partial<Record<OperationId, RequestHandler[]>>;
  /**
   * Check every answer against the contract, problems included: its status,
   * its body and its headers. An answer that breaks it becomes a 500
   * `internal_error`, reported to `onError`. On in development and in
   * tests. Default: false.
   */
  validateResponses?: boolean;
  /** Largest accepted JSON body; larger ones answer 413. Default: `16kb`. */
  bodyLimit?: string;
  /**
   * Told of every error that became a problem response, with the original
   * error (which may carry private detail) and the problem the client got.
   */
  onError?: (error: unknown, problem: ApiProblem<ProblemShape>, req: Request) => void;
  /**
   * Turns an error of the application's own (a database that does not
   * answer, say) into the problem the client gets; undefined leaves it to
   * the router (a 500). The problem must be one the operation declares, or
   * it becomes a 500 too.
   */
  translateError?: (error: unknown) => ApiProblem<ProblemShape> | undefined;
  /**
   * Awaited before any answer is written, a handler's or a problem: a store
   * that makes its commits durable in batches (group commit) resolves it
   * once what the request wrote, or read, is durable. What it throws is
   * answered as a problem, through `translateError`.
   */
  settle?: () => Promise<void>;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The request id of a request: set by the router, for handlers and loggers. */
export function requestIdOf(res: Response): string {
  return (res.locals.requestId as string | undefined) ?? 'unknown';
}

interface Route {
  operation: OperationDescriptor & { operationId: OperationId };
  /** For a path with parameters: its pattern, one group per parameter, in `names` order. */
  pattern?: RegExp;
  names: string[];
}

const routes: Route[] = (operations as readonly (OperationDescriptor & { operationId: OperationId })[]).map((operation) => {
  const names = [...operation.path.matchAll(/\{([^}]+)\}/g)].map((match) => match[1]!);
  if (names.length === 0) return { operation, names };
  const source = operation.path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/\\\{[^}]+\\\}/g, '([^/]+)');
  return { operation, names, pattern: new RegExp(`^${source}$`) };
});

/** The contract's paths without parameters, by method and path: one lookup instead of a pattern per route. */
const staticRoutes = new Map(routes.filter((route) => !route.pattern).map((route) => [`${route.operation.method} ${route.operation.path}`, route]));
const patternRoutes = routes.filter((route) => route.pattern);

/** The route of a method and path, with its path parameters as sent (still percent-encoded). */
function findRoute(method: string, path: string): { route: Route; values: string[] } | undefined {
  const route = staticRoutes.get(`${method} ${path}`);
  if (route) return { route, values: [] };
  for (const candidate of patternRoutes) {
    if (candidate.operation.method !== method) continue;
    const match = candidate.pattern!.exec(path);
    if (match) return { route: candidate, values: match.slice(1) };
  }
  return undefined;
}

/** Every route whose path this is, whatever its method: for a 405's `Allow`. */
function routesOnPath(path: string): Route[] {
  return routes.filter((route) => (route.pattern ? route.pattern.test(path) : route.operation.path === path));
}

/**
 * Mounts the contract: answers paths and methods outside it (404, 405 with
 * `Allow`), validates every request before a handler sees it, resolves the
 * caller, dispatches to the typed handlers, checks their answers, and writes
 * every failure as an RFC 9457 problem.
 *
 * A request is matched to its operation once, by the generated operation
 * table; from there it runs that operation's own chain, put together when
 * the router is made: `before`, the operation's middleware, its body
 * parser, its validator (which knows that operation only), the handler.
 */
export function createApiRouter(handlers: Handlers, options?: ApiRouterOptions): RequestHandler;
export function createApiRouter<P extends Principals>(handlers: Handlers<P>, options: ApiRouterOptions<P> & { security: SecurityResolvers<P> }): RequestHandler;
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the overloads above are what callers see
export function createApiRouter(handlers: Handlers<any>, options: ApiRouterOptions<any> = {}): RequestHandler {
  const judge = options.validateResponses ? new ContractJudge({ undeclaredHeaders: false }) : undefined;
  const json = readJson(options.bodyLimit ?? '16kb');
  const resolvers = options.security ?? credentialsAsSent;
  const challenges = { ...defaultChallenges(), ...options.challenges };
  const before = options.before ?? [];
  const document = validatorDocument();
  const chains = new Map<OperationId, RequestHandler[]>(
    routes.map(({ operation }) => [
      operation.operationId,
      [
        ...before,
        ...(options.beforeOperation?.[operation.operationId] ?? []),
        ...(operation.body ? [json] : []),
        readCookies,
        ...validation(operation, document),
        dispatch(handlers, operation, resolvers, challenges, judge, options.settle),
      ],
    ]),
  );
  const unrouted = [...before, refuseUnrouted];
  const answerError = writeProblem(options, judge);
  // One function rather than a Router of two layers: what fails goes to the problem writer, what it cannot answer on.
  return (req, res, next) => {
    const done = (error?: unknown) => {
      if (error === undefined) {
        next();
        return;
      }
      try {
        answerError(error, req, res, next);
      } catch (thrown) {
        next(thrown);
      }
    };
    let found: OperationId | URIError | undefined;
    try {
      assignRequestId(req, res);
      found = identifyOperation(req, res);
    } catch (error) {
      done(error);
      return;
    }
    if (found instanceof Error) {
      // Refused as the client's mistake, after `before` (CORS) has run, as every refusal is.
      const refusal = found;
      runChain([...before, (_req, _res, refuse) => refuse(refusal)], req, res, done);
      return;
    }
    runChain(found ? chains.get(found)! : unrouted, req, res, done);
  };
}

/** Runs middleware in turn, as Express would: an error, or the end of the chain, goes on to `done`. */
function runChain(chain: RequestHandler[], req: Request, res: Response, done: (error?: unknown) => void): void {
  let index = 0;
  const next = (error?: unknown): void => {
    if (error !== undefined && error !== null && error !== 'route' && error !== 'router') {
      done(error);
      return;
    }
    const middleware = chain[index++];
    if (!middleware) {
      done();
      return;
    }
    try {
      const returned = middleware(req, res, next) as unknown;
      // Express 5 passes a rejected promise on as an error; so does this.
      if (returned instanceof Promise) returned.catch(next);
    } catch (thrown) {
      next(thrown ?? new Error('a middleware threw nothing'));
    }
  };
  next();
}

/**
 * Which operation a request is for, so that whatever answers it, from the
 * first middleware on, is judged as that operation's answer; its path
 * parameters, decoded, become `req.params`. An undecodable parameter is the
 * client's mistake (a 400).
 */
function identifyOperation(req: Request, res: Response): OperationId | URIError | undefined {
  // HEAD is GET without the body (RFC 9110 §9.3.2).
  const method = req.method === 'HEAD' ? 'get' : req.method.toLowerCase();
  const found = findRoute(method, req.path);
  if (!found) return undefined;
  const { route, values } = found;
  res.locals.operationId = route.operation.operationId;
  // From here on a HEAD is the GET it stands for, validated as one; Node still sends no body, as the request was a HEAD.
  if (req.method === 'HEAD') req.method = 'GET';
  if (route.names.length > 0) {
    const params: Record<string, string> = {};
    try {
      route.names.forEach((name, i) => (params[name] = decodeURIComponent(values[i]!)));
    } catch (error) {
      return Object.assign(error instanceof URIError ? error : new URIError(String(error)), { status: 400 });
    }
    req.params = params;
  }
  return route.operation.operationId;
}

/**
 * The validator of one operation: express-openapi-validator over a
 * document that holds this operation only, so that finding its schema
 * costs one match rather than one per path of the contract. An operation
 * with nothing to check (no parameters, no body, unknown query parameters
 * ignored) has none; one whose only parameters are optional headers or
 * cookies skips it for a request that sends none of them, and no query.
 */
function validation(operation: OperationDescriptor, document: OpenApiDocument): RequestHandler[] {
  if (!operation.body && operation.parameters.length === 0 && operation.unknownQueryParameters === 'ignore') return [];
  // Made at the operation's first request, once per process: a server that starts does not pay for every operation's schemas.
  const validate: RequestHandler = (req, res, next) => {
    let validators = validatorsByOperation.get(operation.operationId);
    if (!validators) {
      const checks = OpenApiValidator.middleware({
        apiSpec: onlyOperation(document, operation) as never,
        validateRequests: { allowUnknownQueryParameters: false, removeAdditional: false, coerceTypes: false },
        validateResponses: false,
        // The security step resolves credentials, with each scheme's own problem code.
        validateSecurity: false,
        ignoreUndocumented: true,
        validateFormats: true,
      }) as RequestHandler[];
      validators = [...checks, requireValidated];
      validatorsByOperation.set(operation.operationId, validators);
    }
    runChain(validators, req, res, next);
  };
  // Query parameters may have defaults, which the validator fills in: those operations are always validated.
  if (operation.body || operation.parameters.some((parameter) => parameter.required || parameter.in === 'query' || parameter.in === 'path')) return [validate];
  const headers = operation.parameters.filter((p) => p.in === 'header').map((p) => p.name.toLowerCase());
  const cookies = operation.parameters.filter((p) => p.in === 'cookie').map((p) => p.name);
  const nothingSent = (req: Request) =>
    !req.url.includes('?') &&
    headers.every((name) => req.headers[name] === undefined) &&
    cookies.every((name) => (req as Request & { cookies: Record<string, string | undefined> }).cookies[name] === undefined);
  return [(req, res, next) => (nothingSent(req) ? next() : validate(req, res, next))];
}

/**
 * Fails closed when the validator did not find the operation the router
 * found: it looks the path up in the request target as sent, which in the
 * absolute form (`GET http://host/path`) is not a path, and would let the
 * request through unchecked.
 */
const requireValidated: RequestHandler = (req, _res, next) => {
  if ((req as Request & { openapi?: unknown }).openapi !== undefined) {
    next();
    return;
  }
  const detail = 'The request target must be a path (origin-form).';
  next(ApiProblem.of({ status: 400, code: 'invalid_request', detail, errors: [{ location: 'request', message: detail }] }));
};

/** Each operation's validator, and the check that it found the operation: the same for every router, as the contract is. */
const validatorsByOperation = new Map<string, RequestHandler[]>();

type OpenApiDocument = { paths: Record<string, Record<string, unknown>> } & Record<string, unknown>;

/** The document with one operation: its path item keeps only that method (and the item's shared parameters). */
function onlyOperation(document: OpenApiDocument, operation: OperationDescriptor): OpenApiDocument {
  const item = document.paths[operation.path]!;
  const kept = Object.fromEntries(Object.entries(item).filter(([key]) => key === operation.method || !HTTP_METHODS.has(key)));
  return { ...document, paths: { [operation.path]: kept } };
}

const HTTP_METHODS = new Set(['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace']);

/** A path outside the contract answers 404; a method the path does not take, 405 with `Allow`. */
const refuseUnrouted: RequestHandler = (req, res, next) => {
  if (res.locals.operationId !== undefined) {
    next();
    return;
  }
  const onPath = routesOnPath(req.path);
  if (onPath.length === 0) {
    next(ApiProblem.of({ status: 404, code: 'not_found', detail: 'No such route.' }));
  } else {
    const allow = onPath.flatMap((candidate) => (candidate.operation.method === 'get' ? ['GET', 'HEAD'] : [candidate.operation.method.toUpperCase()])).join(', ');
    next(ApiProblem.of({ status: 405, code: 'method_not_allowed', detail: 'The route does not accept this method.', headers: { Allow: allow } }));
  }
};

/**
 * The contract as the validator reads it. An operation marked
 * `x-unknown-query-parameters: ignore` (the OIDC callback: RFC 6749 §4.1.2
 * has clients ignore response parameters they do not know; the probes)
 * accepts parameters it does not declare; every other operation refuses them.
 */
function validatorDocument(): OpenApiDocument {
  const document = structuredClone(openApiDocument) as unknown as { paths: Record<string, Record<string, Record<string, unknown>>> };
  for (const item of Object.values(document.paths)) {
    for (const operation of Object.values(item)) {
      if (operation['x-unknown-query-parameters'] === 'ignore') operation['x-eov-allow-unknown-query-parameters'] = true;
    }
  }
  return document as unknown as OpenApiDocument;
}

/** Reads a JSON body; what keeps it from being read becomes the problem that says why. */
function readJson(limit: string): RequestHandler {
  const parse = express.json({ limit, type: ['application/json', 'application/*+json'] });
  return (req, res, next) => {
    parse(req, res, (error?: unknown) => (error === undefined ? next() : next(bodyProblem(error))));
  };
}

function bodyProblem(error: unknown): ApiProblem<ProblemShape> {
  const type = (error as { type?: unknown }).type;
  if (type === 'entity.too.large') return ApiProblem.of({ status: 413, code: 'payload_too_large', detail: 'The request body is too large.', cause: error });
  if (type === 'encoding.unsupported' || type === 'charset.unsupported') {
    return ApiProblem.of({ status: 415, code: 'unsupported_media_type', detail: 'Send the body as UTF-8 JSON, uncompressed or with gzip, deflate or br.', cause: error });
  }
  // Malformed JSON, or a body that does not decompress: the client sent something unreadable.
  const detail = 'The request body is not valid JSON.';
  return ApiProblem.of({ status: 400, code: 'invalid_request', detail, errors: [{ location: 'body', message: detail }], cause: error });
}

function assignRequestId(req: Request, res: Response): void {
  const given = req.get('x-request-id');
  const requestId = given && REQUEST_ID.test(given) ? given : randomUUID();
  res.locals.requestId = requestId;
  res.setHeader('X-Request-Id', requestId);
}

const readCookies: RequestHandler = (req, _res, next) => {
  const header = req.get('cookie');
  (req as Request & { cookies: Record<string, string | undefined> }).cookies = header ? parseCookies(header) : {};
  next();
};

const credentialsAsSent: SecurityResolvers<Principals> = {
  ApiKey: ({ credential }) => credential,
  BearerAuth: ({ credential }) => credential,
};

function defaultChallenges(): Record<string, string> {
  return Object.fromEntries(
    Object.entries(securitySchemes as Record<string, SecuritySchemeDescriptor>).map(([name, scheme]) => [
      name,
      scheme.type === 'http' ? pascalCase(scheme.scheme ?? 'bearer') : `ApiKey ${scheme.in}="${scheme.parameter}"`,
    ]),
  );
}

/** The credential of a scheme as the request carries it, if it does. */
function credentialOf(scheme: SecuritySchemeDescriptor, req: Request): string | undefined {
  const name = scheme.parameter;
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
async function resolveSecurity(
  operation: OperationDescriptor,
  resolvers: SecurityResolvers<Principals>,
  challenges: Record<string, string>,
  req: Request,
  res: Response,
): Promise<Record<string, unknown>> {
  let refusal: unknown;
  for (const requirement of operation.security) {
    try {
      const principals: Record<string, unknown> = {};
      for (const name of requirement as SecuritySchemeName[]) {
        const scheme = (securitySchemes as Record<string, SecuritySchemeDescriptor>)[name]!;
        const credential = credentialOf(scheme, req);
        if (credential === undefined) {
          throw ApiProblem.of({
            status: 401,
            code: scheme.problemCode as ProblemShape['code'],
            detail: `${scheme.parameter} is missing.`,
            headers: { 'WWW-Authenticate': challenges[name] },
          });
        }
        principals[name] = await resolvers[name]({ credential, req, res, operation });
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

interface HandlerResult {
  status: number;
  body?: unknown;
  headers?: Record<string, string | string[] | number | undefined>;
}

function dispatch(
  handlers: Handlers<Principals>,
  operation: OperationDescriptor & { operationId: OperationId },
  resolvers: SecurityResolvers<Principals>,
  challenges: Record<string, string>,
  judge: ContractJudge | undefined,
  settle: (() => Promise<void>) | undefined,
): RequestHandler {
  const handler = handlers[operation.operationId].bind(handlers) as (input: unknown, context: unknown) => unknown;
  const names = (location: string) => operation.parameters.filter((p) => p.in === location).map((p) => p.name);
  const [pathNames, queryNames, headerNames, cookieNames] = ['path', 'query', 'header', 'cookie'].map(names) as [string[], string[], string[], string[]];
  return async (req, res) => {
    const security = await resolveSecurity(operation, resolvers, challenges, req, res);
    const cookies = (req as Request & { cookies: Record<string, string | undefined> }).cookies;
    const input = {
      security,
      path: pick(req.params, pathNames),
      query: pick(req.query as Record<string, unknown>, queryNames),
      headers: pickHeaders(req, headerNames),
      cookies: pick(cookies, cookieNames),
      body: operation.body ? req.body : undefined,
    };
    const result = (await handler(input, { requestId: requestIdOf(res), req, res })) as HandlerResult;
    await settle?.();
    const headers: Record<string, string | string[]> = {};
    for (const name in result.headers) {
      const value = result.headers[name];
      if (value !== undefined) headers[name] = Array.isArray(value) ? value : String(value);
    }
    const contentType = operation.responses[result.status]?.contentType;
    if (judge) {
      const violations = judgeSafely(judge, {
        operationId: operation.operationId,
        status: result.status,
        headers: { ...flatten(headers), ...(result.body === undefined ? {} : { 'content-type': contentType ?? 'application/json' }) },
        body: result.body,
      });
      if (violations.length > 0) throw new ContractViolation(operation.operationId, result.status, violations.map((v) => v.message));
    }
    if (result.body === undefined) {
      writeAnswer(res, result.status, headers);
      return;
    }
    // A JSON body is serialised; any other (a page, a script, the contract as YAML) is sent as the text it is.
    const type = contentType ?? 'application/json';
    writeAnswer(res, result.status, headers, { contentType: withCharset(type), text: /json/.test(type) ? JSON.stringify(result.body) : String(result.body) });
  };
}

/** An answer of a handler or a problem that the contract does not declare: answered as a 500. */
export class ContractViolation extends Error {
  constructor(
    readonly operationId: string | undefined,
    readonly status: number,
    readonly violations: string[],
  ) {
    super(`${operationId ?? 'an unrouted request'} answered ${status}, which breaks the contract: ${violations.join('; ')}`);
    this.name = 'ContractViolation';
  }
}

function flatten(headers: Record<string, string | string[]>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, Array.isArray(value) ? value.join(', ') : value]));
}

function pickHeaders(req: Request, names: string[]): Record<string, string> {
  const picked: Record<string, string> = {};
  for (const name of names) {
    const value = req.get(name);
    if (value !== undefined) picked[name] = value;
  }
  return picked;
}

function pick(source: Record<string, unknown> | undefined, names: string[]): Record<string, unknown> {
  const picked: Record<string, unknown> = {};
  for (const name of names) {
    if (source?.[name] !== undefined) picked[name] = source[name];
  }
  return picked;
}

/** The judge's verdict; a judge that fails is a violation too, so that the answer still leaves as a problem. */
function judgeSafely(judge: ContractJudge, answer: Answer): Violation[] {
  try {
    return judge.judge(answer);
  } catch (error) {
    return [{ rule: 'judge', message: `the answer could not be judged: ${error instanceof Error ? error.message : String(error)}` }];
  }
}

function writeProblem(options: Pick<ApiRouterOptions<Principals>, 'onError' | 'translateError' | 'settle'>, judge: ContractJudge | undefined): ErrorRequestHandler {
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

function answerProblem(options: Pick<ApiRouterOptions<Principals>, 'onError' | 'translateError'>, judge: ContractJudge | undefined): ErrorRequestHandler {
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
    if (judge) {
      const violations = judgeSafely(judge, { operationId, status: problem.status, headers: { ...problem.headers, 'content-type': 'application/problem+json' }, body: document });
      if (violations.length > 0) {
        reported = new ContractViolation(operationId, problem.status, violations.map((v) => v.message));
        problem = ApiProblem.of({ status: 500, code: 'internal_error', cause: error });
        document = problemDocument(problem, requestIdOf(res), instance);
      }
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
  const operation = routes.find((route) => route.operation.operationId === req.res?.locals.operationId)?.operation;
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
