import http, { type IncomingMessage, type Server, type ServerOptions, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Express } from 'express';
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
