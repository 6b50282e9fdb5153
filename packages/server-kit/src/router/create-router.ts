import type { OperationId } from '@aimable/auth-openapi';
import { ContractJudge } from '@aimable/auth-openapi/judge';
import type { RequestHandler } from 'express';
import type { Handlers, Principals } from '../gen/handlers.gen.js';
import { runChain } from './chain.js';
import { dispatch } from './dispatch.js';
import { writeProblem } from './errors.js';
import type { ApiRouterOptions } from './options.js';
import { readCookies, readForm, readJson, type RawBodyKeeper } from './parsers.js';
import { assignRequestId } from './request-id.js';
import { contractOperations, identifyOperation, refuseUnrouted, type RoutedOperation } from './routes.js';
import { credentialsAsSent, defaultChallenges, type SecurityResolvers } from './security.js';
import { validation, validatorDocument } from './validation.js';

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
  const dispatchOptions = {
    resolvers: options.security ?? credentialsAsSent,
    challenges: { ...defaultChallenges(), ...options.challenges },
    judge,
    settle: options.settle,
  };
  return mountContract(options, judge, undefined, (operation) => dispatch(handlers, operation, dispatchOptions));
}

/**
 * The router's chains with `last` as each operation's final step: what
 * fails on the way (routing, the body, validation, `last` itself) is
 * answered as a problem; what `last` passes on goes to `next`.
 */
export function mountContract(
  options: ApiRouterOptions<Principals>,
  judge: ContractJudge | undefined,
  keepRawBody: RawBodyKeeper | undefined,
  last: (operation: RoutedOperation) => RequestHandler,
): RequestHandler {
  const json = readJson(options.bodyLimit ?? '16kb', keepRawBody);
  const form = readForm(options.bodyLimit ?? '16kb', keepRawBody);
  const bodyReader = (mediaTypes: readonly string[]) => (mediaTypes.includes('application/x-www-form-urlencoded') ? [form] : [json]);
  const before = options.before ?? [];
  const document = validatorDocument();
  const chains = new Map<OperationId, RequestHandler[]>(
    contractOperations.map((operation) => [
      operation.operationId,
      [
        ...before,
        ...(options.beforeOperation?.[operation.operationId] ?? []),
        ...(operation.body ? bodyReader(operation.body.mediaTypes) : []),
        readCookies,
        ...validation(operation, document),
        last(operation),
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
      runChain(before, req, res, (error) => done(error === undefined ? refusal : error));
      return;
    }
    runChain(found ? chains.get(found)! : unrouted, req, res, done);
  };
}
