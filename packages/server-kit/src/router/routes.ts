import { operations, type OperationDescriptor, type OperationId } from '@aimable/auth-openapi';
import type { Request, RequestHandler, Response } from 'express';
import { ApiProblem } from '../problems.js';

/** An operation of the contract, its id typed as one. */
export type RoutedOperation = OperationDescriptor & { operationId: OperationId };

/** Every operation of the contract, as the generated operation table lists them. */
export const contractOperations = operations as readonly RoutedOperation[];

interface Route {
  operation: RoutedOperation;
  /** For a path with parameters: its pattern, one group per parameter, in `names` order. */
  pattern?: RegExp;
  names: string[];
}

// The contract's table, the same for every router: built once, never changed after.
const routes: readonly Route[] = contractOperations.map((operation) => {
  const names = [...operation.path.matchAll(/\{([^}]+)\}/g)].map((match) => match[1]!);
  if (names.length === 0) return { operation, names };
  const source = operation.path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/\\\{[^}]+\\\}/g, '([^/]+)');
  return { operation, names, pattern: new RegExp(`^${source}$`) };
});

/** The contract's paths without parameters, by method and path: one lookup instead of a pattern per route. */
const staticRoutes: ReadonlyMap<string, Route> = new Map(routes.filter((route) => !route.pattern).map((route) => [`${route.operation.method} ${route.operation.path}`, route]));
const patternRoutes: readonly Route[] = routes.filter((route) => route.pattern);
const operationsById: ReadonlyMap<string, RoutedOperation> = new Map(contractOperations.map((operation) => [operation.operationId, operation]));

/** The operation a request was matched to (`res.locals.operationId`), if any. */
export function operationWithId(operationId: string | undefined): RoutedOperation | undefined {
  return operationId === undefined ? undefined : operationsById.get(operationId);
}

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
 * Which operation a request is for, so that whatever answers it, from the
 * first middleware on, is judged as that operation's answer; its path
 * parameters, decoded, become `req.params`. An undecodable parameter is the
 * client's mistake (a 400).
 */
export function identifyOperation(req: Request, res: Response): OperationId | URIError | undefined {
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

/** A path outside the contract answers 404; a method the path does not take, 405 with `Allow`. */
export const refuseUnrouted: RequestHandler = (req, res, next) => {
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
