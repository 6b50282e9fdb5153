import { openApiDocument, type OperationDescriptor } from '@aimable/auth-openapi';
import type { Request, RequestHandler } from 'express';
import * as OpenApiValidator from 'express-openapi-validator';
import { ApiProblem } from '../problems.js';
import { runChain } from './chain.js';
import type { RequestWithCookies } from './parsers.js';

/** The contract as express-openapi-validator reads it. */
export type OpenApiDocument = { paths: Record<string, Record<string, unknown>> } & Record<string, unknown>;

/**
 * The contract as the validator reads it. An operation marked
 * `x-unknown-query-parameters: ignore` (the OIDC callback: RFC 6749 §4.1.2
 * has clients ignore response parameters they do not know; the probes)
 * accepts parameters it does not declare; every other operation refuses them.
 */
export function validatorDocument(): OpenApiDocument {
  const document = structuredClone(openApiDocument) as unknown as { paths: Record<string, Record<string, Record<string, unknown>>> };
  for (const item of Object.values(document.paths)) {
    for (const operation of Object.values(item)) {
      if (operation['x-unknown-query-parameters'] === 'ignore') operation['x-eov-allow-unknown-query-parameters'] = true;
    }
  }
  return document as unknown as OpenApiDocument;
}

/**
 * The validator of one operation: express-openapi-validator over a
 * document that holds this operation only, so that finding its schema
 * costs one match rather than one per path of the contract. An operation
 * with nothing to check (no parameters, no body, unknown query parameters
 * ignored) has none; one whose only parameters are optional headers or
 * cookies skips it for a request that sends none of them, and no query.
 */
export function validation(operation: OperationDescriptor, document: OpenApiDocument): RequestHandler[] {
  if (!operation.body && operation.parameters.length === 0 && operation.unknownQueryParameters === 'ignore') return [];
  // Made at the operation's first request, as compiling its schemas takes about 80 ms: a server that starts does not pay for every operation's.
  // Kept by this router, not the module: a library holds no state between the routers an application makes.
  let validators: RequestHandler[] | undefined;
  const validate: RequestHandler = (req, res, next) => {
    validators ??= [...validatorOf(operation, document), requireValidated];
    runChain(validators, req, res, next);
  };
  // Query parameters may have defaults, which the validator fills in: those operations are always validated.
  if (operation.body || operation.parameters.some((parameter) => parameter.required || parameter.in === 'query' || parameter.in === 'path')) return [validate];
  const headers = operation.parameters.filter((p) => p.in === 'header').map((p) => p.name.toLowerCase());
  const cookies = operation.parameters.filter((p) => p.in === 'cookie').map((p) => p.name);
  const nothingSent = (req: Request) =>
    !req.url.includes('?') && headers.every((name) => req.headers[name] === undefined) && cookies.every((name) => (req as RequestWithCookies).cookies[name] === undefined);
  return [(req, res, next) => (nothingSent(req) ? next() : validate(req, res, next))];
}

function validatorOf(operation: OperationDescriptor, document: OpenApiDocument): RequestHandler[] {
  return OpenApiValidator.middleware({
    apiSpec: onlyOperation(document, operation) as never,
    validateRequests: { allowUnknownQueryParameters: false, removeAdditional: false, coerceTypes: false },
    validateResponses: false,
    // The security step resolves credentials, with each scheme's own problem code.
    validateSecurity: false,
    ignoreUndocumented: true,
    validateFormats: true,
  }) as RequestHandler[];
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

const HTTP_METHODS: ReadonlySet<string> = new Set(['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace']);

/** The document with one operation: its path item keeps only that method (and the item's shared parameters). */
function onlyOperation(document: OpenApiDocument, operation: OperationDescriptor): OpenApiDocument {
  const item = document.paths[operation.path]!;
  const kept = Object.fromEntries(Object.entries(item).filter(([key]) => key === operation.method || !HTTP_METHODS.has(key)));
  return { ...document, paths: { [operation.path]: kept } };
}
