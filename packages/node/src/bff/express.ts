import type { Bff, BffSession } from './bff.js';

/**
 * The request as Express (or plain `node:http`) hands it over; `originalUrl`
 * is Express's, kept when a router is mounted. Written out rather than
 * taken from `node:http`, so that a project without Node's types (an edge
 * function's) can import the package.
 */
export interface NodeRequest {
  url?: string | undefined;
  method?: string | undefined;
  headers: Record<string, string | string[] | undefined>;
  originalUrl?: string;
}

/** The response as Express or `node:http` gives it: what the adapter writes through. */
export interface NodeResponse {
  statusCode: number;
  setHeader(name: string, value: string | readonly string[]): unknown;
  end(body?: Uint8Array): unknown;
}

/**
 * The BFF's routes as Express middleware: `app.use(expressBff(bff))`.
 * Requests under the BFF's `basePath` are answered; every other request
 * goes on to the next handler. The request's origin is the app's
 * configured one, never its `Host` header.
 */
export function expressBff(bff: Bff, options: { appUrl: string; basePath?: string }): (req: NodeRequest, res: NodeResponse, next: (error?: unknown) => void) => void {
  const appOrigin = new URL(options.appUrl).origin;
  const basePath = (options.basePath ?? '/auth').replace(/\/+$/, '');
  return (req, res, next) => {
    const url = new URL(req.originalUrl ?? req.url ?? '/', appOrigin);
    if (!url.pathname.startsWith(`${basePath}/`)) {
      next();
      return;
    }
    bff
      .handler(new Request(url, { method: req.method, headers: headersOf(req) }))
      .then((response) => sendResponse(res, response))
      .catch(next);
  };
}

/** The signed-in user and a valid access token for an Express request; `undefined` when signed out. */
export function sessionOf(bff: Bff, req: NodeRequest): Promise<BffSession | undefined> {
  return bff.getSession(req);
}

function headersOf(req: NodeRequest): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    for (const one of Array.isArray(value) ? value : [value]) headers.append(name, one);
  }
  return headers;
}

async function sendResponse(res: NodeResponse, response: Response): Promise<void> {
  res.statusCode = response.status;
  for (const [name, value] of response.headers) if (name !== 'set-cookie') res.setHeader(name, value);
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) res.setHeader('Set-Cookie', cookies);
  res.end(new Uint8Array(await response.arrayBuffer()));
}
