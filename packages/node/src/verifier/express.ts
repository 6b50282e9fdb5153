import type { AccessTokenClaims } from './claims.js';
import { AccessTokenError } from './errors.js';
import { accessTokenProblem } from './problem.js';
import { bearerToken, type Verifier } from './verifier.js';

/**
 * The parts of a Node request the middleware reads, and the one it sets.
 * Express's request has them, and so has a plain `http.IncomingMessage`:
 * the package needs neither Express nor its types.
 */
export interface NodeRequestLike {
  headers: Record<string, string | string[] | undefined>;
  url?: string;
  /** Express's path and query before any router stripped its mount path. */
  originalUrl?: string;
  auth?: AccessTokenClaims;
}

/** The parts of a Node response the middleware writes a problem with (Express's, or `http.ServerResponse`). */
export interface NodeResponseLike {
  statusCode: number;
  setHeader(name: string, value: string): unknown;
  end(body: string): unknown;
}

export type NextFunction = (error?: unknown) => void;

export interface RequireAuthOptions {
  verifier: Verifier;
  /** The tenant every token must be issued for, instead of the verifier's. */
  tenant?: string;
  /** The `realm` of the `WWW-Authenticate` challenge; none when not given. */
  realm?: string;
}

/**
 * Express middleware: sets `req.auth` to the verified claims of the
 * request's `Authorization: Bearer` token and goes on, or answers 401
 * `application/problem+json` with `WWW-Authenticate: Bearer
 * error="invalid_token"` (503 when the issuer's keys cannot be read). Any
 * other error goes to `next`, for the app's error handler.
 */
export function requireAuth(options: RequireAuthOptions): (req: NodeRequestLike, res: NodeResponseLike, next: NextFunction) => void {
  const { verifier, tenant, realm } = options;
  return (req, res, next) => {
    Promise.resolve()
      .then(() => verifier.verify(bearerToken(headerOf(req, 'authorization')), tenant === undefined ? {} : { tenant }))
      .then(
      (claims) => {
        req.auth = claims;
        next();
      },
      (error: unknown) => {
        if (!(error instanceof AccessTokenError)) return next(error);
        const problem = accessTokenProblem(error, { instance: req.originalUrl ?? req.url ?? '/', requestId: headerOf(req, 'x-request-id'), ...(realm === undefined ? {} : { realm }) });
        res.statusCode = problem.status;
        for (const [name, value] of Object.entries(problem.headers)) res.setHeader(name, value);
        res.end(JSON.stringify(problem.body));
      },
    );
  };
}

function headerOf(req: NodeRequestLike, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

declare global {
  // Express's own augmentation point: `req.auth` is typed in the handlers after `requireAuth`.
  namespace Express {
    interface Request {
      /** The verified access-token claims, set by `requireAuth`. */
      auth?: AccessTokenClaims;
    }
  }
}
