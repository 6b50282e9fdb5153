import http, { type IncomingMessage, type Server, type ServerOptions, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Express, Response } from 'express';
import { answerClientError } from './client-errors.js';

/**
 * The HTTP server of an Express app, whose requests and responses are
 * Express's own from the moment Node makes them.
 *
 * `app.listen` makes Node's plain `IncomingMessage` and `ServerResponse`,
 * and Express gives each one its own prototype (`app.request`,
 * `app.response`) as it comes in: V8 then drops what it had learnt of the
 * object's shape, and every property read of the request's life is a slow
 * one. That costs about as much as all the rest of bare Express's work for
 * a small answer. Made with those prototypes from the start, they are
 * objects of one shape, and Express's own change of prototype finds
 * nothing to change. A request Node refuses before the application sees
 * it for its size (`431`) is answered as a problem too. Everything else is
 * as `app.listen` has it.
 */
export function createHttpServer(app: Express, options: ServerOptions = {}): Server {
  // Functions rather than classes: Express needs `prototype` to be its own objects, which a class's cannot be made.
  // Node's constructors (functions in Node 20 to 24) take `this` as it comes; should they become classes, `Reflect.construct`
  // does the same at about twice the cost of `app.listen`.
  const callable = isPlainFunction(http.IncomingMessage) && isPlainFunction(http.ServerResponse);
  function AppRequest(this: IncomingMessage, socket: Socket): IncomingMessage | void {
    if (!callable) return Reflect.construct(http.IncomingMessage, [socket], AppRequest) as IncomingMessage;
    (http.IncomingMessage as unknown as (this: IncomingMessage, socket: Socket) => void).call(this, socket);
  }
  AppRequest.prototype = app.request;
  function AppResponse(this: ServerResponse, req: IncomingMessage, responseOptions?: unknown): ServerResponse | void {
    if (!callable) return Reflect.construct(http.ServerResponse, [req, responseOptions], AppResponse) as ServerResponse;
    (http.ServerResponse as unknown as (this: ServerResponse, req: IncomingMessage, options?: unknown) => void).call(this, req, responseOptions);
  }
  AppResponse.prototype = app.response;
  const server = http.createServer({ ...options, IncomingMessage: AppRequest as unknown as typeof IncomingMessage, ServerResponse: AppResponse as unknown as typeof ServerResponse }, app);
  server.on('clientError', answerClientError);
  return server;
}

function isPlainFunction(constructor: unknown): boolean {
  return typeof constructor === 'function' && !/^class\b/.test(Function.prototype.toString.call(constructor));
}

/** Statuses that never have a body, nor its headers (RFC 9110 §6.4.1). */
const BODILESS = (status: number) => status < 200 || status === 204 || status === 304;

/** `type/subtype; charset=utf-8`, as Express's `res.send` of a string has it, unless the type names its charset already. */
export function withCharset(contentType: string): string {
  return /;\s*charset=/i.test(contentType) ? contentType : `${contentType}; charset=utf-8`;
}

/**
 * Writes a whole answer at once: its status, its headers (`Vary` added to
 * what is there already, every other one in place of it) and its body,
 * text sent as UTF-8, with its `Content-Length`. A HEAD gets the headers
 * only (Node sends no body for it). What else Express's `res.send` does
 * (an ETag, a freshness check, a guess at the type) the contract does not
 * want, and is not done.
 */
export function writeAnswer(res: Response, status: number, headers: Record<string, string | string[]>, body?: { contentType: string; text: string }): void {
  const written: Record<string, string | string[] | number> = {};
  const bodiless = BODILESS(status);
  for (const name in headers) {
    const value = headers[name]!;
    const lower = name.toLowerCase();
    if (lower === 'vary') res.vary(String(value));
    // The length is always the one sent; the type too where there is a body, or where the status allows none.
    else if (lower !== 'content-length' && (lower !== 'content-type' || (body === undefined && !bodiless))) written[name] = value;
  }
  if (body === undefined || bodiless) {
    // Said outright: with the headers written before end(), Node would otherwise send an empty chunked body.
    if (!bodiless) written['Content-Length'] = 0;
    res.writeHead(status, written).end();
    return;
  }
  written['Content-Type'] = body.contentType;
  written['Content-Length'] = Buffer.byteLength(body.text);
  res.writeHead(status, written).end(body.text);
}
