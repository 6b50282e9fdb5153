import type { AccessTokenClaims } from './claims.js';
import { AccessTokenError } from './errors.js';
import { accessTokenProblem, DEFAULT_REALM, pathOf } from './problem.js';
import { bearerToken, isNonEmptyString, type Verifier } from './verifier.js';

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
  /** Set once the head is written: no problem can be sent after it. */
  headersSent?: boolean;
  setHeader(name: string, value: string): unknown;
  end(body: string): unknown;
}

export type NextFunction = (error?: unknown) => void;

export interface RequireAuthOptions {
  verifier: Verifier;
  /** The tenant every token must be issued for, instead of the verifier's. When the key is present, a non-empty string. */
  tenant?: string;
  /** The `realm` of the `WWW-Authenticate` challenge: printable ASCII, without `"` or `\`. Default `aimable-auth`, as the server's. */
  realm?: string;
}

/**
 * Express middleware: sets `req.auth` to the verified claims of the
 * request's `Authorization: Bearer` token and goes on, or answers 401
 * `application/problem+json` with `WWW-Authenticate: Bearer
 * realm="aimable-auth", error="invalid_token"` (503 when the issuer's keys cannot be read). Any
 * other error goes to `next`, for the app's error handler.
 */
export function requireAuth(options: RequireAuthOptions): (req: NodeRequestLike, res: NodeResponseLike, next: NextFunction) => void {
  const { verifier } = options;
  // A tenant given but unset (an unset environment variable) must not silently accept every tenant.
  if ('tenant' in options && !isNonEmptyString(options.tenant)) throw new TypeError('requireAuth: tenant, when given, must be a non-empty string');
  const verifyOptions = 'tenant' in options ? { tenant: options.tenant } : {};
  const realm = options.realm ?? DEFAULT_REALM;
  // MUST (RFC 7230 §3.2.6, RFC 6750 §3): the realm is a quoted-string in a header; CR, LF or a quote would break the header or forge parameters.
  if (typeof realm !== 'string' || !REALM.test(realm)) throw new TypeError('requireAuth: realm must be printable ASCII, without " or \\');
  return (req, res, next) => {
    Promise.resolve()
      .then(() => verifier.verify(bearerToken(headerOf(req, 'authorization')), verifyOptions))
      .then(
        (claims) => {
          req.auth = claims;
          next();
        },
        (error: unknown) => {
          if (!(error instanceof AccessTokenError) || res.headersSent === true) return next(error);
          const problem = accessTokenProblem(error, { instance: pathOf(req.originalUrl ?? req.url ?? '/'), requestId: headerOf(req, 'x-request-id'), realm });
          res.statusCode = problem.status;
          for (const [name, value] of Object.entries(problem.headers)) res.setHeader(name, value);
          res.end(JSON.stringify(problem.body));
        },
      )
      // Whatever the handlers above throw (a `next` that throws, a response already closed) goes to the app's error handler, never to an unhandled rejection that ends the process.
      .catch((error: unknown) => {
        try {
          next(error);
        } catch {
          // The app's own error path failed as well: nothing is left to hand the error to.
        }
      });
  };
}

/** A realm that is safe inside `realm="…"`: printable ASCII but the quote and the backslash. */
const REALM = /^[\x20\x21\x23-\x5b\x5d-\x7e]+$/;

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
