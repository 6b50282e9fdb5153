import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { runContractTests, type ContractTestReport } from '@aimable/auth-contract-test';
import { startMock, type RunningMock } from '@aimable/auth-mock';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startHarness, type Harness } from './support/harness.js';
import { API_KEY, REDIRECT_URI } from './support/tenants.js';

/**
 * `pnpm contract-test`, proven three ways: it passes against the server and
 * against the mock, and it catches every fault of a deliberately broken
 * implementation (the mock behind a proxy that breaks its answers).
 */

const require = createRequire(import.meta.url);
const cli = join(dirname(require.resolve('@aimable/auth-contract-test/package.json')), 'dist', 'cli.js');
const SEED = 20_261_128;

let h: Harness;
let mock: RunningMock;
let broken: Server;
let brokenUrl: string;

/** The faults, each a way an implementation might break the contract at run time, and what the report must say. */
const FAULTS: { name: string; operation: string; says: RegExp }[] = [
  { name: 'an undeclared field in a body', operation: 'getHealth', says: /additional properties|uptime/ },
  { name: 'a 503 without Retry-After', operation: 'getReadiness', says: /Retry-After is required/ },
  { name: 'a 401 without its challenge', operation: 'getCurrentSession', says: /WWW-Authenticate is required/ },
  { name: 'a problem code of another status', operation: 'listProviders', says: /code|allowed values/ },
  { name: 'a 405 without Allow', operation: '(unrouted)', says: /Allow is required/ },
  { name: 'an undeclared status', operation: 'getJwks', says: /203 is not a status getJwks declares/ },
];

/** Breaks the mock's answers on their way back. */
function breakAnswer(method: string, path: string, status: number, headers: IncomingHttpHeaders, body: string): { status: number; headers: IncomingHttpHeaders; body: string } {
  const json = () => JSON.parse(body) as Record<string, unknown>;
  if (path === '/healthz' && status === 200) return { status, headers, body: JSON.stringify({ ...json(), uptime: 5 }) };
  if (path === '/readyz') return { status: 503, headers: { ...headers, 'content-type': 'application/problem+json' }, body: JSON.stringify({ type: 'https://auth.aimable.dev/problems/service_unavailable', title: 'Service unavailable', status: 503, code: 'service_unavailable', request_id: 'r' }) };
  if (path === '/v1/auth/session' && status === 401) {
    const { 'www-authenticate': _challenge, ...rest } = headers;
    return { status, headers: rest, body };
  }
  if (path === '/v1/auth/providers' && status === 400) return { status, headers, body: JSON.stringify({ ...json(), code: 'rate_limited' }) };
  if (status === 405) {
    const { allow: _allow, ...rest } = headers;
    return { status, headers: rest, body };
  }
  if (path === '/.well-known/jwks.json' && method === 'GET') return { status: 203, headers, body };
  return { status, headers, body };
}

beforeAll(async () => {
  h = await startHarness();
  mock = await startMock({ port: 0 });
  const upstream = new URL(mock.url);
  broken = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const forward = request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
        const parts: Buffer[] = [];
        answer.on('data', (chunk: Buffer) => parts.push(chunk));
        answer.on('end', () => {
          const path = new URL(req.url ?? '/', 'http://x').pathname;
          const out = breakAnswer(req.method ?? 'GET', path, answer.statusCode ?? 502, answer.headers, Buffer.concat(parts).toString('utf8'));
          const body = Buffer.from(out.body);
          const { 'content-length': _length, 'transfer-encoding': _chunked, ...headers } = out.headers;
          res.writeHead(out.status, { ...headers, 'content-length': String(body.length) });
          res.end(req.method === 'HEAD' ? undefined : body);
        });
      });
      forward.end(Buffer.concat(chunks));
    });
  });
  broken.listen(0, '127.0.0.1');
  await once(broken, 'listening');
  brokenUrl = `http://127.0.0.1:${(broken.address() as AddressInfo).port}`;
}, 60_000);

afterAll(async () => {
  broken?.close();
  await mock?.close();
  await h?.close();
});

let brokenReport: Promise<ContractTestReport> | undefined;
/** One run against the broken implementation serves every fault's test. */
const reportOfBroken = () => (brokenReport ??= runContractTests({ baseUrl: brokenUrl, tenant: 'demo', apiKey: 'ak_mock_contract_test', provider: 'google', seed: SEED, requests: 300 }));

function failures(report: ContractTestReport) {
  return report.results.filter((result) => result.outcome === 'failed');
}

describe('pnpm contract-test', () => {
  test('When it runs against the server, with a login through the local provider, then every check passes and none is skipped', async () => {
    const report = await runContractTests({ baseUrl: h.url, tenant: 'alpha', apiKey: API_KEY, provider: 'dev', user: 'ada', password: 'password', redirectUri: REDIRECT_URI, seed: SEED, requests: 750 });
    expect(failures(report)).toEqual([]);
    expect(report.results.filter((result) => result.outcome === 'skipped')).toEqual([]);
    // Every operation of the contract was checked, through the client and by the fuzzer.
    const operations = new Set(report.results.map((result) => result.operation));
    expect(operations.size).toBeGreaterThanOrEqual(16);
  }, 120_000);

  test('When it runs against the mock, then every check passes', async () => {
    const report = await runContractTests({ baseUrl: mock.url, tenant: 'demo', apiKey: 'ak_mock_contract_test', provider: 'google', seed: SEED, requests: 750 });
    expect(failures(report)).toEqual([]);
  }, 120_000);

  test.each(FAULTS)('When an implementation answers $name, then the report names the operation and the fault, with a request to reproduce it', async ({ operation, says }) => {
    const report = await reportOfBroken();
    const caught = failures(report).filter((result) => result.operation === operation && says.test(result.message ?? ''));
    expect(caught.length, `${operation}: ${JSON.stringify(failures(report).map((f) => [f.operation, f.message]))}`).toBeGreaterThan(0);
    expect(caught[0]!.reproduce).toMatch(/^curl /);
  }, 120_000);

  test('When the command finds a violation, then it exits 1 and writes a JUnit report with the failures; on a clean target it exits 0', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'aimable-contract-'));
    const run = async (baseUrl: string, report: string) => {
      const child = spawn(process.execPath, [cli, '--base-url', baseUrl, '--tenant', 'demo', '--read-only', '--seed', String(SEED), '--requests', '200', '--report', report], { stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const [code] = (await once(child, 'exit')) as [number];
      return { code, output };
    };
    const bad = await run(brokenUrl, join(dir, 'broken.xml'));
    expect(bad.code).toBe(1);
    expect(bad.output).toMatch(/FAIL/);
    expect(bad.output).toMatch(/reproduce: curl /);
    const xml = readFileSync(join(dir, 'broken.xml'), 'utf8');
    expect(xml).toMatch(/<testsuites name="aimable-auth-contract" tests="\d+" failures="[1-9]\d*"/);
    expect(xml).toContain('<failure message=');

    const good = await run(mock.url, join(dir, 'mock.xml'));
    expect(good.code, good.output).toBe(0);
    expect(readFileSync(join(dir, 'mock.xml'), 'utf8')).toMatch(/failures="0"/);
  }, 120_000);
});
