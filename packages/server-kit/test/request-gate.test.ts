import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express from 'express';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ApiProblem, createApiRouter, createHttpServer, createRequestGate, gatedBodyOf, gatedOperationOf } from '../src/index.js';
import { stubHandlers } from './stub-handlers.js';

/** The gate and the full router side by side: what the router refuses before a handler runs, the gate refuses alike. */
const servers: Server[] = [];
let gateUrl: string;
let routerUrl: string;
const passed: { operationId: string | undefined; body: string | undefined; security: unknown }[] = [];

async function serve(app: express.Express): Promise<string> {
  const server = createHttpServer(app);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

beforeAll(async () => {
  const gated = express();
  gated.use(
    createRequestGate({
      security: {
        ApiKey: ({ credential }) => {
          if (credential !== 'good') throw new ApiProblem({ status: 401, code: 'invalid_api_key', headers: { 'WWW-Authenticate': 'ApiKey header="X-API-Key"' } });
          return credential;
        },
        BearerAuth: ({ credential }) => credential,
      },
    }),
  );
  gated.use((req, res) => {
    passed.push({ operationId: gatedOperationOf(res)?.operationId, body: gatedBodyOf(req)?.toString('utf8'), security: res.locals.security });
    res.status(299).end();
  });
  gateUrl = await serve(gated);
  const routed = express();
  routed.use(createApiRouter(stubHandlers));
  routerUrl = await serve(routed);
});

afterAll(async () => {
  await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
});

const refused: [string, RequestInit][] = [
  ['/v1/auth/sessions?limit=5&colour=blue', { headers: { Authorization: 'Bearer t' } }],
  ['/v1/auth/sessions?limit=0', { headers: { Authorization: 'Bearer t' } }],
  ['/v1/auth/oidc/session', { method: 'POST', headers: { 'Idempotency-Key': '', 'Content-Type': 'application/json' }, body: '{"code":"c","state":"s"}' }],
  ['/v1/auth/oidc/session', { method: 'POST', headers: { 'Idempotency-Key': 'k', 'Content-Type': 'application/json' }, body: '{"code":' }],
  ['/v1/auth/oidc/session', { method: 'POST', headers: { 'Idempotency-Key': 'k', 'Content-Type': 'text/plain' }, body: '{}' }],
  ['/v1/refresh', { method: 'POST' }],
  ['/v1/nothing', {}],
  ['/healthz', { method: 'DELETE' }],
];

describe('createRequestGate', () => {
  test.each(refused)('When %s is refused by the router before a handler, then the gate refuses it with the same status, code, title and headers', async (path, init) => {
    const [fromGate, fromRouter] = await Promise.all([fetch(`${gateUrl}${path}`, init), fetch(`${routerUrl}${path}`, init)]);
    expect(fromGate.status).toBe(fromRouter.status);
    expect(fromGate.status).toBeGreaterThanOrEqual(400);
    expect(fromGate.headers.get('content-type')).toBe(fromRouter.headers.get('content-type'));
    expect(fromGate.headers.get('www-authenticate')).toBe(fromRouter.headers.get('www-authenticate'));
    expect(fromGate.headers.get('allow')).toBe(fromRouter.headers.get('allow'));
    const [a, b] = (await Promise.all([fromGate.json(), fromRouter.json()])) as { code: string; title: string; errors?: unknown }[];
    expect({ code: a!.code, title: a!.title, errors: a!.errors }).toEqual({ code: b!.code, title: b!.title, errors: b!.errors });
  });

  test('When a credential is refused by the resolver, then the gate answers its problem and lets nothing through', async () => {
    passed.length = 0;
    const response = await fetch(`${gateUrl}/v1/refresh`, { method: 'POST', headers: { 'X-API-Key': 'bad' } });
    expect(response.status).toBe(401);
    expect(((await response.json()) as { code: string }).code).toBe('invalid_api_key');
    expect(passed).toEqual([]);
  });

  test('When a request is valid, then it goes on with its operation, its body as sent and its resolved caller', async () => {
    passed.length = 0;
    const body = '{"refresh_token":"rt_1"}';
    const response = await fetch(`${gateUrl}/v1/refresh`, { method: 'POST', headers: { 'X-API-Key': 'good', 'Content-Type': 'application/json' }, body });
    expect(response.status).toBe(299);
    expect(passed).toEqual([{ operationId: 'refreshSession', body, security: { ApiKey: 'good' } }]);
  });
});
