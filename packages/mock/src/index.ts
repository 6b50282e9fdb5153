import { spawn, type ChildProcess } from 'node:child_process';
import { request, type IncomingMessage, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { ApiProblem, createHttpServer, createRequestGate, gatedBodyOf, gatedOperationOf, problemDocument, requestIdOf, sendProblem } from '@aimable/auth-server-kit';
import express, { type ErrorRequestHandler, type Request, type RequestHandler, type Response } from 'express';
import { ResponseNegotiator } from './negotiation.js';
import { MOCK_CHALLENGES, mockRules, mockSecurity } from './rules.js';
import { missingRequiredHeaders, scenarioPrefer } from './scenarios.js';

export { ResponseNegotiator } from './negotiation.js';
export { DEMO_API_KEY } from './rules.js';

const require = createRequire(import.meta.url);

/** The port `pnpm mock` listens on unless told otherwise. */
export const DEFAULT_MOCK_PORT = 4010;

/** Where the contract's examples send a browser: the mock at its default address (the provider's page is its callback). */
const EXAMPLE_ORIGIN = `http://localhost:${DEFAULT_MOCK_PORT}`;
/** The frontend the examples' callback returns to. */
const EXAMPLE_FRONTEND = 'http://localhost:5173/auth/callback';

export interface MockOptions {
  /** Port to listen on; 0 picks a free one. Default 4010. */
  port?: number;
  /** Interface to listen on. Default 127.0.0.1. */
  host?: string;
  /** Generate data from the schemas instead of serving the examples. */
  dynamic?: boolean;
  /** The OpenAPI document to serve. Default: the Aimable Auth contract. */
  specPath?: string;
  /** Receives Prism's log lines. Default: discarded. */
  log?: (line: string) => void;
}

export interface RunningMock {
  /** Base URL of the mock, for example `http://127.0.0.1:4010`. */
  url: string;
  port: number;
  close(): Promise<void>;
}

/**
 * Starts Prism on a private port behind a thin proxy. What the server
 * refuses for its form (a path, method, body, parameter, header or missing
 * credential the contract does not allow) the proxy refuses with the
 * server kit's own gate and problem writer, so with the same status, code,
 * title and headers; what the server decides from its state (API keys,
 * tenants, allowlists) it decides by documented rules (`rules.ts`). A valid
 * request goes to Prism, with `Accept` mapped to `Prefer` so that browsers
 * get redirects and `fetch` callers asking for JSON the JSON variant, as
 * from the real server; a caller's own `Prefer` picks any declared response.
 * The examples' authorization URLs lead to the mock's own callback (the
 * mock plays the provider too), at whatever address the mock is reached,
 * and the callback returns to the `frontend_redirect_uri` the start was
 * given, as the real server does: a browser round trip works on the mock.
 */
export async function startMock(options: MockOptions = {}): Promise<RunningMock> {
  const host = options.host ?? '127.0.0.1';
  const specPath = options.specPath ?? require.resolve('@aimable/auth-openapi/openapi.yaml');
  const negotiator = new ResponseNegotiator();
  const { child: prism, port: prismPort } = await startPrism(specPath, options);

  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  // A CORS preflight is Prism's to answer.
  app.use((req, res, next) => (isPreflight(req) ? void toPrism(req, res, next) : next()));
  app.use(createRequestGate({ security: mockSecurity, challenges: MOCK_CHALLENGES, before: [corsHeaders] }));
  app.use(mockRules);
  app.use((req, res, next) => void toPrism(req, res, next));
  app.use(answerProblem);

  async function toPrism(req: Request, res: Response, next: (error?: unknown) => void): Promise<void> {
    try {
      const url = new URL(req.originalUrl, 'http://mock');
      const method = req.method === 'HEAD' ? 'GET' : req.method;
      const body = gatedBodyOf(req) ?? (await readBody(req));
      // The server answers its one media type whatever `Accept` says: Prism would answer 406. The body goes as read (decoded).
      const { 'content-encoding': _encoding, 'content-length': _length, ...headers } = { ...req.headers, accept: '*/*' } as IncomingMessage['headers'];
      const operation = gatedOperationOf(res);
      if (headers.prefer && operation) {
        // A scenario: the caller asks for one of the operation's declared responses.
        const scenario = scenarioPrefer(operation, String(headers.prefer));
        if ('undeclared' in scenario) throw undeclaredScenario(scenario.undeclared);
        headers.prefer = scenario.prefer;
      } else if (!headers.prefer) {
        const prefer = negotiator.preferFor(method, req.originalUrl, req.headers.accept);
        if (prefer) headers.prefer = prefer;
        // A grant asked for in the body (a refresh token sent in the body, or `refresh_token_delivery: body`) gets the example that carries it.
        else if (method === 'POST' && wantsTokenInBody(req.body)) headers.prefer = 'example=grant_with_refresh_token';
        // A logout answers the provider's end-session URL only when asked to sign out at the provider: otherwise 204, as the server does.
        else if (operation?.operationId === 'logout' && !wantsProviderLogout(req.body)) headers.prefer = 'code=204';
      }
      const answer = await forward(prismPort, method, req.originalUrl, headers, body);
      const rewrite = rewriterFor(url, req.headers.host ? `http://${req.headers.host}` : EXAMPLE_ORIGIN);
      const out = Buffer.from(rewrite(answer.body.toString('utf8')));
      // The request id is the gate's, fresh for every request as the server's is, not the example's.
      const { 'transfer-encoding': _chunked, 'content-length': _prismLength, 'x-request-id': _exampleId, ...passed } = answer.headers;
      if (passed.location !== undefined) passed.location = rewrite(String(passed.location));
      const filled = operation ? missingRequiredHeaders(operation, answer.status, (name) => passed[name.toLowerCase()] !== undefined) : {};
      res.writeHead(answer.status, { ...passed, ...filled, 'content-length': String(out.length) });
      res.end(req.method === 'HEAD' ? undefined : out);
    } catch (error) {
      next(error);
    }
  }

  // The kit's server: a request over the header limit gets the server's 431 problem.
  const proxy = createHttpServer(app);
  const port = await listen(proxy, options.port ?? DEFAULT_MOCK_PORT, host);

  return {
    url: `http://${host}:${port}`,
    port,
    close: async () => {
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
      proxy.closeAllConnections();
      await stopProcess(prism);
    },
  };
}

function isPreflight(req: Request): boolean {
  return req.method === 'OPTIONS' && req.headers.origin !== undefined && req.headers['access-control-request-method'] !== undefined;
}

function undeclaredScenario(why: string): ApiProblem {
  const message = `asks for a response the operation does not declare: ${why}`;
  return ApiProblem.of({ status: 400, code: 'invalid_request', detail: `headers.prefer ${message}`, errors: [{ location: 'headers.prefer', message }] }) as ApiProblem;
}

/** What the mock's own rules refuse, and a Prism it cannot reach, written by the kit's problem writer. */
const answerProblem: ErrorRequestHandler = (error: unknown, req, res, next) => {
  if (res.headersSent) {
    next(error);
    return;
  }
  const problem = error instanceof ApiProblem ? error : ApiProblem.of({ status: 503, code: 'service_unavailable', detail: 'The Prism mock is not reachable.', headers: { 'Retry-After': 1 }, cause: error });
  sendProblem(res, problem, problemDocument(problem, requestIdOf(res), req.originalUrl.split('?', 1)[0] ?? '/'));
};

/**
 * Starts Prism on port 0: the system picks a port that nothing else can take before Prism listens on it, and
 * Prism names it in the line it logs once it listens.
 */
async function startPrism(specPath: string, options: MockOptions): Promise<{ child: ChildProcess; port: number }> {
  const prismCli = require.resolve('@stoplight/prism-cli/dist/index.js');
  const args = [prismCli, 'mock', specPath, '--host', '127.0.0.1', '--port', '0'];
  if (options.dynamic) args.push('--dynamic');
  const child = spawn(process.execPath, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, SCARF_ANALYTICS: 'false', DO_NOT_TRACK: '1' },
  });
  const log = options.log ?? (() => {});
  return new Promise((resolve, reject) => {
    let output = '';
    const onData = (chunk: Buffer) => {
      const text = chunk.toString();
      output += text;
      for (const line of text.split('\n')) if (line.trim()) log(line);
      // A whole line only: a chunk may end inside the port's digits.
      const listening = /Prism is listening on http:\/\/[^\s]+:(\d+)\S*\r?\n/.exec(output);
      if (listening) {
        clearTimeout(timer);
        resolve({ child, port: Number(listening[1]) });
      }
    };
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`Prism did not start within 30 s:\n${output}`));
    }, 30_000);
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`Prism exited with code ${code}:\n${output}`));
    });
  });
}

function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
  });
}

/**
 * What changes in an answer of the examples: links to the mock at its
 * default address lead to where it is reached; the start's authorization
 * URL carries its `frontend_redirect_uri` to the callback (the real server
 * keeps it with the state), and the callback returns there.
 */
function rewriterFor(url: URL, origin: string): (text: string) => string {
  const frontend = url.searchParams.get('frontend_redirect_uri');
  const isStart = /^\/v1\/auth\/oidc\/[^/]+\/start$/.test(url.pathname);
  const isCallback = /^\/v1\/auth\/oidc\/[^/]+\/callback$/.test(url.pathname);
  return (text) => {
    let result = text.replaceAll(EXAMPLE_ORIGIN, origin);
    if (frontend && isStart) result = result.replaceAll('/callback?', `/callback?frontend_redirect_uri=${encodeURIComponent(frontend)}&`);
    if (frontend && isCallback) result = result.replaceAll(EXAMPLE_FRONTEND, frontend);
    return result;
  };
}

function wantsProviderLogout(body: unknown): boolean {
  return (body as { provider?: unknown } | undefined)?.provider === true;
}

function wantsTokenInBody(body: unknown): boolean {
  const json = body as { refresh_token?: unknown; refresh_token_delivery?: unknown } | undefined;
  return typeof json?.refresh_token === 'string' || json?.refresh_token_delivery === 'body';
}

/** What Prism's CORS answers say, for the answers the gate gives itself: a browser reads them too. */
const corsHeaders: RequestHandler = (req, res, next) => {
  const origin = req.headers.origin;
  if (origin) {
    res.setHeader('Access-Control-Allow-Origin', origin);
    res.setHeader('Access-Control-Allow-Credentials', 'true');
    res.setHeader('Access-Control-Expose-Headers', 'WWW-Authenticate, Retry-After, Allow, X-Request-Id');
    res.setHeader('Vary', 'Origin');
  }
  next();
};

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function forward(port: number, method: string, path: string, headers: IncomingMessage['headers'], body: Buffer): Promise<{ status: number; headers: IncomingMessage['headers']; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const upstream = request({ host: '127.0.0.1', port, method, path, headers: { ...headers, 'content-length': String(body.length) } }, (answer) => {
      readBody(answer).then((data) => resolve({ status: answer.statusCode ?? 502, headers: answer.headers, body: data }), reject);
    });
    upstream.on('error', reject);
    upstream.end(body);
  });
}
