import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { dirname, extname, join, normalize, sep } from 'node:path';

const require = createRequire(import.meta.url);

/** The demo apps: the same app written on `@aimable/auth-client` alone, and in React on `@aimable/auth-react`. */
export type DemoApp = '@aimable/demo-web' | '@aimable/demo-react';

/** What a demo app reads from `/config.json`: where the API is, and as which tenant it signs in. */
export interface DemoWebConfig {
  apiBaseUrl: string;
  tenantId: string;
  apiKey: string;
  /** The API is the mock: the app offers its error scenarios. */
  mock?: boolean;
}

export interface RunningDemoWeb {
  url: string;
  port: number;
  close(): Promise<void>;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
};

/**
 * Serves a built demo app (`@aimable/demo-web` unless `app` names the
 * other) and its `/config.json`. Any path that is not a file is the app
 * itself, which routes it (`/auth/callback`).
 */
export async function serveDemoWeb(options: { app?: DemoApp; port: number; host?: string; config: DemoWebConfig }): Promise<RunningDemoWeb> {
  const root = join(dirname(require.resolve(`${options.app ?? '@aimable/demo-web'}/package.json`)), 'dist');
  const index = await readFile(join(root, 'index.html'));
  const config = JSON.stringify(options.config);
  const server: Server = createServer((req, res) => {
    void (async () => {
      const path = decodeURIComponent(new URL(req.url ?? '/', 'http://demo').pathname);
      const headers = { 'X-Content-Type-Options': 'nosniff', 'Referrer-Policy': 'no-referrer' };
      if (path === '/config.json') {
        res.writeHead(200, { ...headers, 'Content-Type': TYPES['.json'], 'Cache-Control': 'no-store' }).end(config);
        return;
      }
      const file = normalize(join(root, path));
      if (file.startsWith(root + sep) && extname(file) in TYPES) {
        const body = await readFile(file).catch(() => undefined);
        if (body) {
          res.writeHead(200, { ...headers, 'Content-Type': TYPES[extname(file)]!, 'Cache-Control': path.startsWith('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache' }).end(body);
          return;
        }
      }
      res.writeHead(200, { ...headers, 'Content-Type': TYPES['.html']!, 'Cache-Control': 'no-cache' }).end(index);
    })().catch(() => {
      if (!res.headersSent) res.writeHead(400).end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://localhost:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
