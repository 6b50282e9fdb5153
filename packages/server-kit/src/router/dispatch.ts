import type { ContractJudge } from '@aimable/auth-openapi/judge';
import type { RequestHandler, Request } from 'express';
import type { Handlers, Principals } from '../gen/handlers.gen.js';
import { withCharset, writeAnswer } from '../answer.js';
import type { RequestWithCookies } from './parsers.js';
import { clientRequestIdOf, requestIdOf } from './request-id.js';
import { violationOf } from './response-checks.js';
import type { RoutedOperation } from './routes.js';
import { resolveSecurity, type SecurityResolvers } from './security.js';

/** What a handler returns, as the router reads it: the generated result types, whatever the operation. */
interface HandlerResult {
  status: number;
  body?: unknown;
  headers?: Record<string, string | string[] | number | undefined>;
}

export interface DispatchOptions {
  resolvers: SecurityResolvers<Principals>;
  challenges: Record<string, string>;
  judge: ContractJudge | undefined;
  settle: (() => Promise<void>) | undefined;
}

/**
 * The last step of an operation's chain: resolves the caller, calls the
 * handler with its typed input, waits for `settle`, checks the answer
 * against the contract (with a judge) and writes it.
 */
export function dispatch(handlers: Handlers<Principals>, operation: RoutedOperation, { resolvers, challenges, judge, settle }: DispatchOptions): RequestHandler {
  const handler = handlers[operation.operationId].bind(handlers) as (input: unknown, context: unknown) => unknown;
  const names = (location: string) => operation.parameters.filter((p) => p.in === location).map((p) => p.name);
  const [pathNames, queryNames, headerNames, cookieNames] = ['path', 'query', 'header', 'cookie'].map(names) as [string[], string[], string[], string[]];
  return async (req, res) => {
    const security = await resolveSecurity(operation, resolvers, challenges, req, res);
    const input = {
      security,
      path: pick(req.params, pathNames),
      query: pick(req.query as Record<string, unknown>, queryNames),
      headers: pickHeaders(req, headerNames),
      cookies: pick((req as RequestWithCookies).cookies, cookieNames),
      body: operation.body ? req.body : undefined,
    };
    const result = (await handler(input, { requestId: requestIdOf(res), clientRequestId: clientRequestIdOf(res), req, res })) as HandlerResult;
    await settle?.();
    const headers: Record<string, string | string[]> = {};
    for (const name in result.headers) {
      const value = result.headers[name];
      if (value !== undefined) headers[name] = Array.isArray(value) ? value : String(value);
    }
    const contentType = operation.responses[result.status]?.contentType;
    if (judge) {
      const violation = violationOf(judge, {
        operationId: operation.operationId,
        status: result.status,
        headers: { ...flatten(headers), ...(result.body === undefined ? {} : { 'content-type': contentType ?? 'application/json' }) },
        body: result.body,
      });
      if (violation) throw violation;
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
