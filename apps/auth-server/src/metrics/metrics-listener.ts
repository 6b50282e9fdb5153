import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Metrics } from './metrics.js';

export interface MetricsListenerOptions {
  port: number;
  host: string;
  /** When set, scrapes must send `Authorization: Bearer <token>`. */
  token: string | undefined;
}

export interface RunningMetricsListener {
  url: string;
  close(): Promise<void>;
}

/**
 * The admin listener that serves `GET /metrics`: apart from the API, on
 * its own port (loopback by default), so that the contract's router, its
 * CORS and its rate limits never see a scrape, and the public port never
 * shows one.
 */
export async function startMetricsListener(metrics: Metrics, options: MetricsListenerOptions): Promise<RunningMetricsListener> {
  const expected = options.token === undefined ? undefined : digest(options.token);
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '').split('?', 1)[0];
    if (path !== '/metrics') {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('Not found. Metrics are at /metrics.\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' }).end('Method not allowed.\n');
      return;
    }
    if (expected && !presents(req.headers.authorization, expected)) {
      res.writeHead(401, { 'WWW-Authenticate': 'Bearer realm="aimable-auth-metrics"', 'Content-Type': 'text/plain; charset=utf-8' }).end('Unauthorized.\n');
      return;
    }
    metrics.render().then(
      ({ contentType, body }) => res.writeHead(200, { 'Content-Type': contentType, 'Cache-Control': 'no-store' }).end(req.method === 'HEAD' ? undefined : body),
      () => res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' }).end('Metrics could not be collected.\n'),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    url: `http://${host}:${port}/metrics`,
    close: async () => {
      server.closeIdleConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Whether the header carries the token: compared as fixed-length digests, in constant time. */
function presents(authorization: string | undefined, expected: Buffer): boolean {
  const token = /^Bearer (.+)$/i.exec(authorization ?? '')?.[1];
  return timingSafeEqual(digest(token ?? ''), expected) && token !== undefined;
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
