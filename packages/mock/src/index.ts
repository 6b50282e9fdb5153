import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { ResponseNegotiator } from './negotiation.js';

export { ResponseNegotiator } from './negotiation.js';

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
 * Starts Prism on a private port behind a thin proxy that maps `Accept` to
 * Prism's `Prefer` header, so that browsers get redirects and `fetch`
 * callers asking for JSON get the JSON variant, as from the real server.
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

  const proxy = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://mock');
      const body = await readBody(req);
      // What lies outside the contract answers as the contract says (`x-unrouted-responses`), not as Prism would;
      // a CORS preflight is Prism's to answer.
      const preflight = req.method === 'OPTIONS' && req.headers.origin !== undefined && req.headers['access-control-request-method'] !== undefined;
      const route = preflight ? { kind: 'operation' as const } : negotiator.route(req.method ?? 'GET', req.url ?? '/');
      const sendProblem = (status: number, code: string, detail: string, headers: Record<string, string>) => problem(res, status, code, detail, { ...headers, ...corsHeaders(req) });
      if (route.kind === 'not_found') {
        sendProblem(404, 'not_found', 'No such route.', {});
        return;
      }
      if (route.kind === 'method_not_allowed') {
        sendProblem(405, 'method_not_allowed', 'The route does not accept this method.', { Allow: route.allow });
        return;
      }
      // What the server refuses before an operation runs, refused here the same way: Prism would crash on a path it cannot
      // decode, and wait forever on a body it cannot parse.
      const refusal = refusalOf(url, req.headers['content-type'], body, negotiator.takesForm(req.method ?? 'GET', req.url ?? '/'));
      if (refusal) {
        sendProblem(refusal.status, refusal.code, refusal.detail, {});
        return;
      }
      // The real server refuses a refresh that carries no refresh token; Prism cannot tell, as the contract takes it from a cookie or the body.
      if (url.pathname === '/v1/refresh' && req.method === 'POST' && !hasRefreshToken(req, body)) {
        sendProblem(401, 'invalid_refresh_token', 'Send the refresh token in the refresh cookie or the body.', { 'WWW-Authenticate': 'ApiKey realm="aimable-auth", header="X-API-Key"' });
        return;
      }
      // The server answers its one media type whatever `Accept` says: Prism would answer 406. HEAD is GET without the body.
      const headers: IncomingMessage['headers'] = { ...req.headers, accept: '*/*' };
      const prefer = headers.prefer ? undefined : negotiator.preferFor(req.method === 'HEAD' ? 'GET' : (req.method ?? 'GET'), req.url ?? '/', req.headers.accept);
      if (prefer) headers.prefer = prefer;
      // A logout answers the provider's end-session URL only when asked to sign out at the provider: otherwise 204, as the server does.
      if (!headers.prefer && req.method === 'POST' && url.pathname === '/v1/auth/logout' && !wantsProviderLogout(body)) headers.prefer = 'code=204';
      // A grant asked for in the body (a refresh token sent in the body, or `refresh_token_delivery: body`) gets the example that carries it.
      if (!headers.prefer && req.method === 'POST' && wantsTokenInBody(body)) headers.prefer = 'example=grant_with_refresh_token';
      const answer = await forward(prismPort, req.method === 'HEAD' ? 'GET' : (req.method ?? 'GET'), req.url ?? '/', headers, body);
      const rewrite = rewriterFor(url, req.headers.host ? `http://${req.headers.host}` : EXAMPLE_ORIGIN);
      const text = rewrite(answer.body.toString('utf8'));
      const location = answer.headers.location === undefined ? undefined : rewrite(String(answer.headers.location));
      const out = Buffer.from(text);
      const { 'transfer-encoding': _chunked, ...passed } = answer.headers;
      res.writeHead(answer.status, { ...passed, ...(location === undefined ? {} : { location }), 'content-length': String(out.length) });
      res.end(req.method === 'HEAD' ? undefined : out);
    })().catch(() => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end('The Prism mock is not reachable.\n');
    });
  });
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

function hasRefreshToken(req: IncomingMessage, body: Buffer): boolean {
  if (/(?:^|;\s*)__Host-aimable_refresh_[^=]+=[^;\s]/.test(req.headers.cookie ?? '')) return true;
  try {
    return typeof (JSON.parse(body.toString('utf8')) as { refresh_token?: unknown }).refresh_token === 'string';
  } catch {
    return false;
  }
}

/** The largest body the server takes. */
const BODY_LIMIT = 16 * 1024;

function refusalOf(url: URL, contentType: string | undefined, body: Buffer, takesForm: boolean): { status: number; code: string; detail: string } | undefined {
  try {
    for (const segment of url.pathname.split('/')) decodeURIComponent(segment);
  } catch {
    return { status: 400, code: 'invalid_request', detail: 'A path parameter is not valid percent-encoding.' };
  }
  if (body.length === 0) return undefined;
  if (body.length > BODY_LIMIT) return { status: 413, code: 'payload_too_large', detail: 'The request body is too large.' };
  // A form (what a provider posts: a back-channel logout) is Prism's to check against the operation's schema.
  if (takesForm && (contentType ?? '').toLowerCase().split(';')[0]!.trim() === 'application/x-www-form-urlencoded') return undefined;
  if (!isJson(contentType)) return { status: 415, code: 'unsupported_media_type', detail: 'Send the body as application/json.' };
  try {
    JSON.parse(body.toString('utf8'));
  } catch {
    return { status: 400, code: 'invalid_request', detail: 'The body is not valid JSON.' };
  }
  return undefined;
}

function isJson(contentType: string | undefined): boolean {
  const [type, ...parameters] = (contentType ?? '').toLowerCase().split(';').map((part) => part.trim());
  const charset = parameters.find((parameter) => parameter.startsWith('charset='))?.slice('charset='.length).replace(/"/g, '');
  return type === 'application/json' && (charset === undefined || charset === 'utf-8');
}

function wantsProviderLogout(body: Buffer): boolean {
  try {
    return (JSON.parse(body.toString('utf8')) as { provider?: unknown }).provider === true;
  } catch {
    return false;
  }
}

function wantsTokenInBody(body: Buffer): boolean {
  try {
    const json = JSON.parse(body.toString('utf8')) as { refresh_token?: unknown; refresh_token_delivery?: unknown };
    return typeof json.refresh_token === 'string' || json.refresh_token_delivery === 'body';
  } catch {
    return false;
  }
}

const TITLES: Record<number, string> = { 400: 'Invalid request', 401: 'Unauthorized', 404: 'Not found', 405: 'Method not allowed', 413: 'Payload too large', 415: 'Unsupported media type' };

/** What Prism's CORS answers say, for the answers the proxy gives itself: a browser reads them too. */
function corsHeaders(req: IncomingMessage): Record<string, string> {
  const origin = req.headers.origin;
  return origin ? { 'Access-Control-Allow-Origin': origin, 'Access-Control-Allow-Credentials': 'true', 'Access-Control-Expose-Headers': 'WWW-Authenticate, Retry-After, Allow, X-Request-Id', Vary: 'Origin' } : {};
}

function problem(res: ServerResponse, status: number, code: string, detail: string, headers: Record<string, string>): void {
  const requestId = randomUUID();
  res.writeHead(status, { 'content-type': 'application/problem+json', 'x-request-id': requestId, ...headers });
  res.end(JSON.stringify({ type: `https://auth.aimable.dev/problems/${code}`, title: TITLES[status] ?? 'Error', status, detail, code, request_id: requestId }));
}

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
    const upstream = request({ host: '127.0.0.1', port, method, path, headers }, (answer) => {
      readBody(answer).then((data) => resolve({ status: answer.statusCode ?? 502, headers: answer.headers, body: data }), reject);
    });
    upstream.on('error', reject);
    upstream.end(body);
  });
}
