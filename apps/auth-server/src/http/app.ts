import { createApiRouter, operations, type Handlers, type OperationId } from '@aimable/auth-server-kit';
import express, { type Express, type Request, type RequestHandler, type Response } from 'express';
import helmet from 'helmet';
import type { Logger } from 'pino';
import { describeError } from '../logging/logger.js';
import type { TenantRegistry } from '../tenants/tenant-registry.js';
import type { CallerPrincipals, Callers } from './caller.js';
import type { RateLimits } from './rate-limits.js';
import type { Metrics } from '../metrics/metrics.js';
import { CHALLENGES, databaseUnavailable, storageUnavailable } from '../problems.js';
import type { StorageHealth } from '../health/storage-health.js';
import { isDatabaseUnavailable, storageFailureCode } from '../store/unavailable.js';
import { originCheck, tenantCors, UNSAFE_OPERATIONS } from './cors.js';

export interface AppOptions {
  handlers: Handlers<CallerPrincipals>;
  tenants: TenantRegistry;
  callers: Callers;
  limits: RateLimits;
  logger: Logger;
  /** The access log's (`createLoggers`). */
  requestLogger: Logger;
  metrics: Metrics;
  validateResponses: boolean;
  trustProxy: boolean | number | string[];
  /** Told of every error, to notice a full or read-only disk. */
  storage: StorageHealth;
  /** Resolves once what the store committed so far is durable: awaited before every answer (`StoreRuntime.settle`). */
  settle: () => Promise<void>;
}

/** The Express app: security headers, access logs, and the contract's router with CORS and the security step. */
export function createApp(options: AppOptions): Express {
  const app = express();
  app.disable('x-powered-by');
  // Every answer is the contract's: no ETag, and so no 304 it does not declare.
  app.set('etag', false);
  app.set('trust proxy', options.trustProxy);
  const api = createApiRouter(options.handlers, {
      before: [tenantCors(options.tenants, options.callers)],
      beforeOperation: beforeOperation(options),
      security: options.callers.resolvers(),
      challenges: CHALLENGES,
      validateResponses: options.validateResponses,
      settle: options.settle,
      translateError: (error) => (options.storage.observe(error) ? storageUnavailable(error) : isDatabaseUnavailable(error) ? databaseUnavailable(error) : undefined),
      onError: (error, problem, req) => {
        const entry = { req_id: req.res?.locals.requestId, status: problem.status, code: problem.code, error: describeError(error) };
        // A storage failure is told once, by `storage`, and counted: not once per request.
        if (storageFailureCode(error) !== undefined) return;
        if (problem.status >= 500) options.logger.error(entry, 'request failed');
        else options.logger.info(entry, 'request refused');
        if (problem.code === 'rate_limited') options.metrics.rateLimited(options.callers.of(req).namedOrApiKeyTenant()?.id, req.res?.locals.operationId);
      },
  });
  const headers = securityHeaders();
  const log = accessLog(options.requestLogger, options.metrics);
  // One layer: Express's own for each of these costs more than what they do.
  app.use((req, res, next) => {
    for (const [name, value] of headers) res.setHeader(name, value);
    log(req, res);
    api(req, res, next);
  });
  return app;
}

/**
 * Per operation, before its request is read: the rate limits, then the
 * origin check of unsafe operations. Login start, session creation and
 * refresh have limits of their own; every other operation the contract
 * secures with an API key or a bearer token counts against `api`, so that
 * no credential is checked, and no refusal audited, faster than that.
 */
function beforeOperation({ callers, limits }: AppOptions): Partial<Record<OperationId, RequestHandler[]>> {
  const own: Partial<Record<OperationId, RequestHandler>> = {
    startOidcLogin: limits.middleware('start'),
    createSession: limits.middleware('session'),
    // Unauthenticated like session creation, and counted with it per client: a flood of made-up logout tokens
    // costs each a signature check and may fetch the provider's keys.
    backchannelLogout: limits.middleware('session'),
    refreshSession: limits.middleware('refresh'),
  };
  const api = limits.middleware('api');
  const checkOrigin = originCheck(callers);
  return Object.fromEntries(
    operations.map(({ operationId, security }) => {
      const limit = own[operationId] ?? (security.length > 0 ? api : undefined);
      // The limit first: the origin check verifies the request's credentials, which is what the limit bounds.
      return [operationId, [...(limit ? [limit] : []), ...(UNSAFE_OPERATIONS.has(operationId) ? [checkOrigin] : [])]];
    }),
  );
}

/**
 * One line per request: path without query (the query may hold codes and
 * states), status and duration; and its count and duration per operation.
 */
function accessLog(logger: Logger, metrics: Metrics): (req: Request, res: Response) => void {
  return (req, res) => {
    const started = process.hrtime.bigint();
    // The router validates a HEAD as a GET; the log says what came.
    const method = req.method;
    res.on('finish', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      metrics.observeRequest(res.locals.operationId as string | undefined, res.statusCode, ms / 1000);
      logger.info(
        {
          req_id: res.locals.requestId,
          ...(res.locals.clientRequestId === undefined ? {} : { client_req_id: res.locals.clientRequestId }),
          method,
          path: req.originalUrl.split('?', 1)[0],
          status: res.statusCode,
          ms,
        },
        'request',
      );
    });
  };
}

/**
 * The headers helmet sets, with its defaults (CSP, HSTS, nosniff,
 * frame and referrer policies…): recorded from helmet itself, once, as
 * they are the same for every answer.
 */
export function securityHeaders(): [string, string][] {
  const recorded = new Map<string, string>();
  const res = {
    setHeader: (name: string, value: unknown) => recorded.set(name, String(value)),
    // Helmet removes X-Powered-By, which the app never sets (`x-powered-by` is disabled).
    removeHeader: (name: string) => recorded.delete(name),
  };
  let done = false;
  helmet()({} as never, res as never, (error?: unknown) => {
    if (error !== undefined) throw error;
    done = true;
  });
  if (!done) throw new Error('helmet did not finish at once: its headers cannot be recorded');
  return [...recorded];
}
