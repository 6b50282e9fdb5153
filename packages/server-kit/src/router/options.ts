import type { OperationId } from '@aimable/auth-openapi';
import type { Request, RequestHandler } from 'express';
import type { DefaultPrincipals, Principals, SecuritySchemeName } from '../gen/handlers.gen.js';
import type { ApiProblem, ProblemShape } from '../problems.js';
import type { SecurityResolvers } from './security.js';

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
