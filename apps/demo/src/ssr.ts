import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

/** Who the server-rendered demo app is to the auth server. */
export interface DemoSsrConfig {
  authUrl: string;
  /** The access tokens' `aud`, which the app's API checks. */
  audience: string;
  tenantId: string;
  apiKey: string;
}

export interface RunningDemoSsr {
  url: string;
  close(): Promise<void>;
}

/**
 * Serves the built Next.js demo app (`@aimable/demo-ssr`) with `next start`
 * in a process of its own, told where the API is; resolves once it
 * listens. Its tokens and API key stay in that process.
 */
export async function serveDemoSsr(options: { port: number; config: DemoSsrConfig }): Promise<RunningDemoSsr> {
  const root = dirname(require.resolve('@aimable/demo-ssr/package.json'));
  if (!existsSync(join(root, '.next', 'BUILD_ID'))) throw new Error(`${root} is not built: run pnpm build`);
  const next = require.resolve('next/dist/bin/next', { paths: [root] });
  const url = `http://localhost:${options.port}`;
  const child = spawn(process.execPath, [next, 'start', '--port', String(options.port), '--hostname', '127.0.0.1'], {
    cwd: root,
    env: {
      ...process.env,
      NODE_ENV: 'production',
      NEXT_TELEMETRY_DISABLED: '1',
      AIMABLE_AUTH_URL: options.config.authUrl,
      AIMABLE_AUDIENCE: options.config.audience,
      AIMABLE_TENANT_ID: options.config.tenantId,
      AIMABLE_API_KEY: options.config.apiKey,
      APP_URL: url,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  for (const stream of [child.stdout, child.stderr]) stream.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // The app must not outlive the demo, however the demo ends.
  const stopChild = () => child.kill('SIGTERM');
  process.once('exit', stopChild);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the server-rendered demo app did not start:\n${output}`)), 60_000);
    child.stdout.on('data', () => {
      if (output.includes('Ready in')) {
        clearTimeout(timer);
        resolve();
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`the server-rendered demo app exited:\n${output}`));
    });
  });
  return {
    url,
    close: async () => {
      process.off('exit', stopChild);
      child.kill('SIGTERM');
      await exited;
    },
  };
}
