import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Bff, BffSession } from './bff.js';

/** The request as Express (or plain `node:http`) hands it over; `originalUrl` is Express's, kept when a router is mounted. */
export type NodeRequest = IncomingMessage & { originalUrl?: string };

/**
 * The BFF's routes as Express middleware: `app.use(expressBff(bff))`.
 * Requests under the BFF's `basePath` are answered; every other request
 * goes on to the next handler. The request's origin is the app's
 * configured one, never its `Host` header.
 */
export function expressBff(bff: Bff, options: { appUrl: string; basePath?: string }): (req: NodeRequest, res: ServerResponse, next: (error?: unknown) => void) => void {
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

function headersOf(req: IncomingMessage): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    for (const one of Array.isArray(value) ? value : [value]) headers.append(name, one);
  }
  return headers;
}

async function sendResponse(res: ServerResponse, response: Response): Promise<void> {
  res.statusCode = response.status;
  for (const [name, value] of response.headers) if (name !== 'set-cookie') res.setHeader(name, value);
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) res.setHeader('Set-Cookie', cookies);
  res.end(Buffer.from(await response.arrayBuffer()));
}
