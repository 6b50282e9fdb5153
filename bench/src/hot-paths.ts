/**
 * Throughput and latency of the server's hot paths, each quoted as a ratio
 * to a baseline measured in the same run (GET /healthz: the same HTTP,
 * validation and security-header stack, without database or crypto).
 *
 *   pnpm --filter @aimable/bench bench [-- --seconds 5 --concurrency 32]
 *
 * The server runs in this process with its production settings (response
 * validation off), on a fresh SQLite database, with the local identity
 * provider for the logins that set the sessions up.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildServerConfig, parseTenants, startServer } from '@aimable/auth-server';
import { signInAt, startDevIdp } from '@aimable/dev-idp';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    concurrency: { type: 'string', default: '32' },
  },
});
const seconds = Number(values.seconds);
const concurrency = Number(values.concurrency);
const API_KEY = 'ak_bench_0001';
const REDIRECT_URI = 'http://localhost:5173/auth/callback';

const dataDir = mkdtempSync(join(tmpdir(), 'aimable-bench-'));
const port = await freePort();
const url = `http://localhost:${port}`;
const idp = await startDevIdp({ port: 0, clients: [{ client_id: 'bench', client_secret: 'bench-secret', redirect_uris: [`${url}/v1/auth/oidc/dev/callback`] }] });
const server = await startServer({
  config: buildServerConfig({
    port,
    host: '127.0.0.1',
    dataDir,
    validateResponses: false,
    logLevel: 'silent',
    rateLimits: { start: { points: 1e9, globalPoints: 1e9 }, session: { points: 1e9, globalPoints: 1e9 }, refresh: { points: 1e9, globalPoints: 1e9 } },
    tenants: parseTenants(
      {
        tenants: [
          {
            id: 'bench',
            providers: { dev: { display_name: 'Local', issuer: idp.issuer, client_id: 'bench', client_secret_env: 'BENCH_SECRET', allow_insecure_http: true } },
            redirect_uris: [REDIRECT_URI],
            api_keys: [{ id: 'k', sha256: createHash('sha256').update(API_KEY).digest('hex') }],
          },
        ],
      },
      { BENCH_SECRET: 'bench-secret' },
    ),
  }),
});

interface Grant {
  access_token: string;
  refresh_token: string;
}

async function signIn(): Promise<Grant> {
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const started = await fetch(`${url}/v1/auth/oidc/dev/start?frontend_redirect_uri=${encodeURIComponent(REDIRECT_URI)}&code_challenge=${challenge}&code_challenge_method=S256`, {
    headers: { 'X-Tenant-Id': 'bench' },
    redirect: 'manual',
  });
  const providerReturn = await signInAt(started.headers.get('location')!, { username: 'ada', password: 'password' });
  const back = new URL((await fetch(providerReturn, { redirect: 'manual' })).headers.get('location')!);
  const response = await fetch(`${url}/v1/auth/oidc/session`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Tenant-Id': 'bench', 'Idempotency-Key': randomBytes(8).toString('hex') },
    body: JSON.stringify({ code: back.searchParams.get('code'), state: back.searchParams.get('state'), code_verifier: verifier, refresh_token_delivery: 'body' }),
  });
  return (await response.json()) as Grant;
}

interface Result {
  name: string;
  requests: number;
  perSecond: number;
  p50: number;
  p99: number;
}

/** `concurrency` workers send requests back to back for `seconds`; every answer must be `expected`. */
async function measure(name: string, expected: number, request: (worker: number) => Promise<Response>): Promise<Result> {
  const latencies: number[] = [];
  const deadline = performance.now() + seconds * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      while (performance.now() < deadline) {
        const t0 = performance.now();
        const response = await request(worker);
        await response.arrayBuffer();
        if (response.status !== expected) throw new Error(`${name}: answered ${response.status}`);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!;
  return { name, requests: latencies.length, perSecond: latencies.length / elapsed, p50: at(0.5), p99: at(0.99) };
}

const grants = await Promise.all(Array.from({ length: concurrency }, () => signIn()));

const results: Result[] = [];
results.push(await measure('GET /healthz (baseline)', 200, () => fetch(`${url}/healthz`)));
results.push(
  await measure('GET /v1/auth/session (verify JWT, read session and user)', 200, (worker) =>
    fetch(`${url}/v1/auth/session`, { headers: { Authorization: `Bearer ${grants[worker]!.access_token}` } }),
  ),
);
results.push(
  await measure('POST /v1/refresh (rotate: hash, 3 reads, 1 transaction, sign, seal)', 200, async (worker) => {
    const response = await fetch(`${url}/v1/refresh`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-API-Key': API_KEY },
      body: JSON.stringify({ refresh_token: grants[worker]!.refresh_token }),
    });
    if (response.status === 200) {
      const grant = (await response.clone().json()) as Grant;
      grants[worker] = grant;
    }
    return response;
  }),
);
results.push(await measure('GET /healthz (baseline, again)', 200, () => fetch(`${url}/healthz`)));

const baseline = (results[0]!.perSecond + results.at(-1)!.perSecond) / 2;
console.log(`\n${seconds} s per scenario, ${concurrency} concurrent clients, Node ${process.version}, SQLite synchronous=FULL\n`);
console.log('| Scenario | Requests | Req/s | p50 ms | p99 ms | Throughput vs baseline |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
for (const r of results) {
  console.log(`| ${r.name} | ${r.requests} | ${r.perSecond.toFixed(0)} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${(r.perSecond / baseline).toFixed(2)} |`);
}

await server.close();
await idp.close();
rmSync(dataDir, { recursive: true, force: true });

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', () => resolve()));
  const { port: free } = (probe.address() as AddressInfo);
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return free;
}
