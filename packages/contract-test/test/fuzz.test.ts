import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, test } from 'vitest';
import { ContractBreach, fuzz } from '../src/index.js';

/**
 * A few lines of server that keep the contract for `/healthz` alone, and
 * variants of it that break it once in a way an implementation might.
 */
type Fault = 'none' | 'server-error' | 'undeclared-status' | 'extra-field' | 'no-allow-header' | 'problem-code-of-another-status';

let server: Server | undefined;

afterEach(async () => {
  server?.close();
  server = undefined;
});

async function probeServer(fault: Fault): Promise<string> {
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?', 1)[0];
    const problem = (status: number, code: string, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'Content-Type': 'application/problem+json', 'X-Request-Id': 'r1', ...headers });
      res.end(JSON.stringify({ type: `https://auth.aimable.dev/problems/${code}`, title: code, status, code, request_id: 'r1' }));
    };
    req.resume();
    if (path !== '/healthz') return problem(404, fault === 'problem-code-of-another-status' ? 'rate_limited' : 'not_found');
    if (req.method !== 'GET' && req.method !== 'HEAD') return problem(405, 'method_not_allowed', fault === 'no-allow-header' ? {} : { Allow: 'GET, HEAD' });
    if (fault === 'server-error') return problem(500, 'internal_error');
    res.writeHead(fault === 'undeclared-status' ? 202 : 200, { 'Content-Type': 'application/json', 'X-Request-Id': 'r1' });
    res.end(req.method === 'HEAD' ? undefined : JSON.stringify(fault === 'extra-field' ? { status: 'ok', uptime: 5 } : { status: 'ok' }));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function breachOf(fault: Fault): Promise<ContractBreach> {
  const baseUrl = await probeServer(fault);
  const error = await fuzz({ baseUrl, seed: 1, runs: 300, operations: ['getHealth'] }).then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error, `a server with the fault '${fault}' was not caught`).toBeInstanceOf(ContractBreach);
  expect((error as Error).message).toMatch(/replay: seed 1, after \d+ requests/);
  return error as ContractBreach;
}

describe('the fuzzer against a server that keeps the contract', () => {
  test('When every answer is declared, then the run passes and reports what it sent', async () => {
    const baseUrl = await probeServer('none');
    const report = await fuzz({ baseUrl, seed: 1, runs: 300, operations: ['getHealth'] });
    expect(report.requests).toBe(300);
    expect(report.answers['getHealth 200']).toBeGreaterThan(0);
    expect(report.answers['(unrouted) 404']).toBeGreaterThan(0);
    expect(report.answers['(unrouted) 405']).toBeGreaterThan(0);
  });

  test('When the same seed runs twice, then it sends the same requests', async () => {
    const baseUrl = await probeServer('none');
    const sent: string[][] = [[], []];
    for (const run of [0, 1]) {
      await fuzz({ baseUrl, seed: 42, runs: 50, operations: ['getHealth'], around: async (request, send) => {
        sent[run]!.push(`${request.method} ${request.target}`);
        await send();
      } });
    }
    expect(sent[1]).toEqual(sent[0]);
  });
});

describe('the fuzzer against a server that breaks the contract', () => {
  test.each<[Fault, RegExp]>([
    ['server-error', /500 is a server error/],
    ['undeclared-status', /202/],
    ['extra-field', /uptime|additional/],
    ['no-allow-header', /Allow/i],
    ['problem-code-of-another-status', /code/],
  ])('When the server has the fault %s, then the run fails with the request and what is wrong', async (fault, message) => {
    const breach = await breachOf(fault);
    expect(breach.violations.join('; ')).toMatch(message);
    expect(breach.request.target).toMatch(/^\//);
  });

  test('When a check of the caller throws, then the run fails with it', async () => {
    const baseUrl = await probeServer('none');
    const run = fuzz({ baseUrl, seed: 3, runs: 100, operations: ['getHealth'], around: async (request, send) => {
      const answer = await send();
      if (answer.status === 404) throw new Error(`wrote a row for ${request.target}`);
    } });
    await expect(run).rejects.toThrow(/wrote a row/);
  });
});
