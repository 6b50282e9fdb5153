import { securitySchemes, type OperationDescriptor, type SecuritySchemeDescriptor } from '@aimable/auth-openapi';
import type { Request, Response } from 'express';
import type { Principals, SecuritySchemeName } from '../gen/handlers.gen.js';
import { ApiProblem, type ProblemShape } from '../problems.js';
import type { RequestWithCookies } from './parsers.js';

/**
 * Turns a scheme's credential into what handlers receive as
 * `input.security`, or refuses it by throwing an `ApiProblem` (a 401 with
 * the scheme's code, a 403). It runs after the request is validated and
 * before the handler: nothing a handler does happens for a refused caller.
 */
export type SecurityResolver<T> = (request: { credential: string; req: Request; res: Response; operation: OperationDescriptor }) => T | Promise<T>;

export type SecurityResolvers<P extends Principals> = { [K in SecuritySchemeName]: SecurityResolver<P[K]> };

const schemes = securitySchemes as Record<string, SecuritySchemeDescriptor>;

/** Without resolvers of the application's own, a scheme resolves to its credential as sent. */
export const credentialsAsSent: SecurityResolvers<Principals> = {
  ApiKey: ({ credential }) => credential,
  BearerAuth: ({ credential }) => credential,
};

/** Each scheme's `WWW-Authenticate` challenge, unless the application names its own: `Bearer`, `ApiKey header="X-API-Key"`. */
export function defaultChallenges(): Record<string, string> {
  return Object.fromEntries(
    Object.entries(schemes).map(([name, scheme]) => [name, scheme.type === 'http' ? pascalCase(scheme.scheme ?? 'bearer') : `ApiKey ${scheme.in}="${scheme.parameter}"`]),
  );
}

function pascalCase(word: string): string {
  return word.charAt(0).toUpperCase() + word.slice(1);
}

/** The credential of a scheme as the request carries it, if it does. */
function credentialOf(scheme: SecuritySchemeDescriptor, req: Request): string | undefined {
  const name = scheme.parameter;
  if (scheme.type === 'http') {
    const [kind, value] = (req.get('authorization') ?? '').split(/\s+/, 2);
    return kind?.toLowerCase() === scheme.scheme?.toLowerCase() && value ? value : undefined;
  }
  const sent = scheme.in === 'query' ? req.query[name] : scheme.in === 'cookie' ? (req as RequestWithCookies).cookies[name] : req.get(name);
  return typeof sent === 'string' && sent !== '' ? sent : undefined;
}

/**
 * Resolves the caller for an operation's security: the first requirement
 * whose schemes all resolve wins; when none does, the first refusal is
 * answered.
 */
export async function resolveSecurity(
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
        const scheme = schemes[name]!;
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
