import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import { createRequire } from 'node:module';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { ResponseNegotiator } from './negotiation.js';

export { ResponseNegotiator } from './negotiation.js';

const require = createRequire(import.meta.url);

/** The port `pnpm mock` listens on unless told otherwise. */
export const DEFAULT_MOCK_PORT = 4010;

/** Where the contract's examples send a browser: the mock at its default address (the provider's page is its callback). */
const EXAMPLE_ORIGIN = `http://localhost:${DEFAULT_MOCK_PORT}`;

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
 * mock plays the provider too), at whatever address the mock is reached.
 */
export async function startMock(options: MockOptions = {}): Promise<RunningMock> {
  const host = options.host ?? '127.0.0.1';
  const specPath = options.specPath ?? require.resolve('@aimable/auth-openapi/openapi.yaml');
  const negotiator = new ResponseNegotiator();
  const prismPort = await freePort();
  const prism = await startPrism(specPath, prismPort, options);

  const proxy = createServer((req, res) => {
    const headers = { ...req.headers };
    const prefer = headers.prefer ? undefined : negotiator.preferFor(req.method ?? 'GET', req.url ?? '/', req.headers.accept);
    if (prefer) headers.prefer = prefer;
    const upstream = request(
      { host: '127.0.0.1', port: prismPort, method: req.method, path: req.url, headers },
      (answer: IncomingMessage) => {
        const origin = req.headers.host ? `http://${req.headers.host}` : EXAMPLE_ORIGIN;
        if (origin === EXAMPLE_ORIGIN) {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
          return;
        }
        // Served elsewhere, the examples' links lead back to this mock, so that a browser round trip stays on it.
        const chunks: Buffer[] = [];
        answer.on('data', (chunk: Buffer) => chunks.push(chunk));
        answer.on('end', () => {
          const body = Buffer.from(Buffer.concat(chunks).toString('utf8').replaceAll(EXAMPLE_ORIGIN, origin));
          const location = answer.headers.location?.replaceAll(EXAMPLE_ORIGIN, origin);
          res.writeHead(answer.statusCode ?? 502, { ...answer.headers, ...(location ? { location } : {}), 'content-length': String(body.length) });
          res.end(body);
        });
      },
    );
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end('The Prism mock is not reachable.\n');
    });
    req.pipe(upstream);
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

async function startPrism(specPath: string, port: number, options: MockOptions): Promise<ChildProcess> {
  const prismCli = require.resolve('@stoplight/prism-cli/dist/index.js');
  const args = [prismCli, 'mock', specPath, '--host', '127.0.0.1', '--port', String(port)];
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
      if (output.includes('Prism is listening')) {
        clearTimeout(timer);
        resolve(child);
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

async function freePort(): Promise<number> {
  const probe = createNetServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', () => resolve()));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}
