import { connect, type AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express from 'express';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { ApiProblem as ApiProblemClass, createApiRouter, createHttpServer, type ApiProblem, type Handlers, type ProblemShape } from '../src/index.js';
import { problemOf } from './problem-of.js';
import { stubHandlers } from './stub-handlers.js';

const calls: string[] = [];
const reported: { error: unknown; problem: ApiProblem<ProblemShape> }[] = [];
let overrides: Partial<Handlers> = {};

// Every call goes through the stubs, recorded, unless a test overrides one.
const handlers = new Proxy(stubHandlers, {
  get(target, name: keyof Handlers) {
    return (input: never, context: never) => {
      calls.push(name);
      const handler = (overrides[name] ?? target[name]) as (input: never, context: never) => unknown;
      return handler(input, context);
    };
  },
}) as Handlers;

let server: Server;
let baseUrl: string;

beforeAll(async () => {
  const app = express();
  app.use(createApiRouter(handlers, { validateResponses: true, onError: (error, problem) => reported.push({ error, problem }) }));
  server = createHttpServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

beforeEach(() => {
  calls.length = 0;
  reported.length = 0;
  overrides = {};
});

const startUrl = '/v1/auth/oidc/dev/start?frontend_redirect_uri=http%3A%2F%2Flocalhost%3A5173%2Fauth%2Fcallback';
const sessionBody = JSON.stringify({ code: 'abc', state: 'xyz' });

describe('createApiRouter', () => {
  test('When a request is valid, then the handler gets typed input and its response is sent', async () => {
    overrides.listSessions = (input) => {
      expect(input.query).toEqual({ limit: 5, cursor: 'c1' });
      return { status: 200, body: { data: [], next_cursor: null } };
    };
    const response = await fetch(`${baseUrl}/v1/auth/sessions?limit=5&cursor=c1`, { headers: { Authorization: 'Bearer t' } });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ data: [], next_cursor: null });
    expect(calls).toEqual(['listSessions']);
  });

  test('When a GET is asked for conditionally, or as a HEAD, then it is answered as the contract declares: 200 with its JSON and its length; a HEAD without the body', async () => {
    overrides.listSessions = () => ({ status: 200, body: { data: [], next_cursor: null } });
    const headers = { Authorization: 'Bearer t', 'If-None-Match': '*', 'If-Modified-Since': new Date().toUTCString() };
    const conditional = await fetch(`${baseUrl}/v1/auth/sessions`, { headers });
    expect(conditional.status).toBe(200);
    expect(conditional.headers.get('content-type')).toBe('application/json; charset=utf-8');
    const text = await conditional.text();
    expect(JSON.parse(text)).toEqual({ data: [], next_cursor: null });
    expect(conditional.headers.get('content-length')).toBe(String(Buffer.byteLength(text)));
    const head = await fetch(`${baseUrl}/v1/auth/sessions`, { method: 'HEAD', headers });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(Buffer.byteLength(text)));
    expect(await head.text()).toBe('');
    expect(calls).toEqual(['listSessions', 'listSessions']);
  });

  test('When a handler answers 302, then the response carries Location', async () => {
    const response = await fetch(`${baseUrl}${startUrl}`, { headers: { 'X-Tenant-Id': 'demo' }, redirect: 'manual' });
    expect(response.status).toBe(302);
    expect(response.headers.get('location')).toBe('https://idp.test/authorize?state=s1&redirect=http%3A%2F%2Flocalhost%3A5173%2Fauth%2Fcallback');
    expect(response.headers.get('cache-control')).toBe('no-store');
  });

  test('When an operation marked x-unknown-query-parameters: ignore gets parameters it does not declare, then the handler runs without them; others refuse them', async () => {
    overrides.handleOidcCallback = (input) => {
      expect(input.query).toEqual({ code: '4/0AbC', state: 's1', iss: 'https://idp.test' });
      return { status: 302, headers: { Location: 'http://localhost:5173/auth/callback?code=x&state=s1' } };
    };
    const callback = await fetch(`${baseUrl}/v1/auth/oidc/dev/callback?code=4/0AbC&state=s1&iss=https://idp.test&scope=openid+email&authuser=0&session_state=x`, { redirect: 'manual' });
    expect(callback.status).toBe(302);
    const start = await fetch(`${baseUrl}${startUrl}&scope=openid`, { headers: { 'X-Tenant-Id': 'demo' }, redirect: 'manual' });
    expect(start.status).toBe(400);
    expect((await problemOf(start)).errors?.map((e) => e.location)).toEqual(['query.scope']);
  });

  test('When a parameter declared allowReserved carries reserved characters unencoded, then it is accepted as sent', async () => {
    overrides.startOidcLogin = (input) => {
      expect(input.query.frontend_redirect_uri).toBe('https://yourapp.com/callback');
      return { status: 302, headers: { Location: 'https://idp.test/authorize', Vary: 'Accept' } };
    };
    const response = await fetch(`${baseUrl}/v1/auth/oidc/dev/start?frontend_redirect_uri=https://yourapp.com/callback`, { headers: { 'X-Tenant-Id': 'demo' }, redirect: 'manual' });
    expect(response.status).toBe(302);
  });

  test('When a required header is missing, then a 400 problem is answered before the handler runs', async () => {
    const response = await fetch(`${baseUrl}/v1/auth/providers`, { redirect: 'manual' });
    expect(response.status).toBe(400);
    const problem = await problemOf(response);
    expect(problem).toMatchObject({ code: 'invalid_request', status: 400 });
    expect(problem.errors?.map((e) => e.location)).toContain('headers.x-tenant-id');
    expect(calls).toEqual([]);
  });

  test('When Idempotency-Key is missing, then the contract’s own code idempotency_key_missing is answered', async () => {
    const response = await fetch(`${baseUrl}/v1/auth/oidc/session`, {
      method: 'POST',
      headers: { 'X-Tenant-Id': 'demo', 'Content-Type': 'application/json' },
      body: sessionBody,
    });
    expect(response.status).toBe(400);
    expect((await problemOf(response)).code).toBe('idempotency_key_missing');
    expect(calls).toEqual([]);
  });

  test.each([
    ['a body with an unknown property', JSON.stringify({ code: 'a', state: 'b', admin: true }), 'application/json'],
    ['a body missing a required property', JSON.stringify({ code: 'a' }), 'application/json'],
    ['a body of the wrong type', JSON.stringify({ code: 1, state: 'b' }), 'application/json'],
    ['a body that is not JSON', '{"code":', 'application/json'],
    ['a verifier too short for PKCE', JSON.stringify({ code: 'a', state: 'b', code_verifier: 'short' }), 'application/json'],
  ])('When the session body is %s, then a 400 invalid_request is answered before the handler runs', async (_name, body, type) => {
    const response = await fetch(`${baseUrl}/v1/auth/oidc/session`, {
      method: 'POST',
      headers: { 'X-Tenant-Id': 'demo', 'Idempotency-Key': 'k1', 'Content-Type': type },
      body,
    });
    expect(response.status).toBe(400);
    expect((await problemOf(response)).code).toBe('invalid_request');
    expect(calls).toEqual([]);
  });

  test('When the body is not JSON, then 415 unsupported_media_type is answered', async () => {
    const response = await fetch(`${baseUrl}/v1/auth/oidc/session`, {
      method: 'POST',
      headers: { 'X-Tenant-Id': 'demo', 'Idempotency-Key': 'k1', 'Content-Type': 'text/plain' },
      body: 'code=a&state=b',
    });
    expect(response.status).toBe(415);
    expect((await problemOf(response)).code).toBe('unsupported_media_type');
    expect(calls).toEqual([]);
  });

  test('When a query value breaks its schema, then a 400 problem names it', async () => {
    const response = await fetch(`${baseUrl}/v1/auth/sessions?limit=1000`, { headers: { Authorization: 'Bearer t' } });
    expect(response.status).toBe(400);
    expect((await problemOf(response)).errors?.map((e) => e.location)).toContain('query.limit');
    expect(calls).toEqual([]);
  });

  test('When the request target is in absolute form, then it is validated as any other: a value that breaks its schema is refused, and the handler never runs', async () => {
    const { port } = server.address() as AddressInfo;
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.end(`GET http://127.0.0.1:${port}/v1/auth/sessions?limit=zzz HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer t\r\nConnection: close\r\n\r\n`);
      });
      let text = '';
      socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });
    expect(raw).toMatch(/^HTTP\/1\.1 400 /);
    expect(raw).toContain('"code":"invalid_request"');
    expect(calls).toEqual([]);
  });

  test('When credentials are missing, then 401 carries the code of the security scheme', async () => {
    const refresh = await fetch(`${baseUrl}/v1/refresh`, { method: 'POST' });
    expect(refresh.status).toBe(401);
    expect((await problemOf(refresh)).code).toBe('invalid_api_key');
    const session = await fetch(`${baseUrl}/v1/auth/session`);
    expect(session.status).toBe(401);
    expect(session.headers.get('www-authenticate')).toBe('Bearer');
    expect((await problemOf(session)).code).toBe('invalid_access_token');
    expect(calls).toEqual([]);
  });

  test('When the route or method is unknown, then 404 not_found or 405 method_not_allowed is answered', async () => {
    const missing = await fetch(`${baseUrl}/v1/nope`);
    expect(missing.status).toBe(404);
    expect((await problemOf(missing)).code).toBe('not_found');
    const wrongMethod = await fetch(`${baseUrl}/healthz`, { method: 'DELETE' });
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get('allow')).toBe('GET, HEAD');
    expect((await problemOf(wrongMethod)).code).toBe('method_not_allowed');
    const sessions = await fetch(`${baseUrl}/v1/auth/sessions/ses_1`, { method: 'GET', headers: { Authorization: 'Bearer t' } });
    expect(sessions.status).toBe(405);
    expect(sessions.headers.get('allow')).toBe('DELETE');
    expect(calls).toEqual([]);
  });

  test('When an operation takes a form, then a form body is read and checked against its schema', async () => {
    const target = `${baseUrl}/v1/auth/oidc/dev/backchannel-logout?tenant=demo`;
    const form = await fetch(target, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'logout_token=eyJ.a.b' });
    expect(form.status).toBe(200);
    const missing = await fetch(target, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'other=x' });
    expect(missing.status).toBe(400);
    expect((await problemOf(missing)).errors?.[0]?.location).toBe('body.logout_token');
  });

  test('When a body is larger than the limit, then 413 payload_too_large; a body sent to an operation that takes none is not read', async () => {
    const large = await fetch(`${baseUrl}/v1/refresh`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-API-Key': 'k' },
      body: JSON.stringify({ refresh_token: 'x'.repeat(20_000) }),
    });
    expect(large.status).toBe(413);
    expect((await problemOf(large)).code).toBe('payload_too_large');
    // Session revocation takes no body (logout now takes an optional one).
    const ignored = await fetch(`${baseUrl}/v1/auth/sessions/ses_stub`, { method: 'DELETE', headers: { Authorization: 'Bearer t', 'Content-Type': 'application/json' }, body: '{not json' });
    expect(ignored.status).toBe(204);
  });

  test('When a probe gets query parameters, then it ignores them', async () => {
    expect((await fetch(`${baseUrl}/healthz?x=1`)).status).toBe(200);
    expect((await fetch(`${baseUrl}/.well-known/jwks.json?v=2`)).status).toBe(200);
  });

  test('When a handler throws a problem its operation does not declare, then the answer is a 500 and the violation is reported', async () => {
    overrides.getHealth = () => {
      throw ApiProblemClass.of({ status: 418, code: 'rate_limited' });
    };
    const teapot = await fetch(`${baseUrl}/healthz`);
    expect(teapot.status).toBe(500);
    expect((await problemOf(teapot)).code).toBe('internal_error');
    expect(String((reported[0]?.error as Error).message)).toMatch(/418 is not a status getHealth declares/);

    overrides.refreshSession = () => {
      throw ApiProblemClass.of({ status: 401, code: 'rate_limited', headers: { 'WWW-Authenticate': 'ApiKey' } });
    };
    const wrongCode = await fetch(`${baseUrl}/v1/refresh`, { method: 'POST', headers: { 'X-API-Key': 'k' } });
    expect(wrongCode.status).toBe(500);

    overrides.refreshSession = () => {
      throw ApiProblemClass.of({ status: 401, code: 'session_expired' });
    };
    const noChallenge = await fetch(`${baseUrl}/v1/refresh`, { method: 'POST', headers: { 'X-API-Key': 'k' } });
    expect(noChallenge.status).toBe(500);
    expect(String((reported.at(-1)?.error as Error).message)).toMatch(/WWW-Authenticate is required/);
  });

  test('When a handler answers with a field its schema does not have, then response validation refuses it', async () => {
    overrides.getHealth = () => ({ status: 200, body: { status: 'ok', uptime: 12 } }) as never;
    expect((await fetch(`${baseUrl}/healthz`)).status).toBe(500);
  });

  test('When an operation answers a media type other than JSON, then the body is sent as the text it is', async () => {
    const response = await fetch(`${baseUrl}/openapi.yaml`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/yaml/);
    expect(await response.text()).toBe('openapi: 3.1.0\n');
  });

  test('When a handler varies on Accept, then Vary keeps what others set and adds Accept', async () => {
    overrides.startOidcLogin = () => ({ status: 302, headers: { Location: 'https://idp.test/authorize', Vary: 'Accept' } });
    const response = await fetch(`${baseUrl}${startUrl}`, { headers: { 'X-Tenant-Id': 'demo' }, redirect: 'manual' });
    expect(response.headers.get('vary')).toBe('Accept');
  });

  test('When a handler response violates the contract, then response validation turns it into a 500 that hides the detail', async () => {
    overrides.getHealth = () => ({ status: 200, body: { status: 'degraded' } }) as never;
    const response = await fetch(`${baseUrl}/healthz`);
    expect(response.status).toBe(500);
    const problem = await problemOf(response);
    expect(problem.code).toBe('internal_error');
    expect(problem.detail).not.toContain('degraded');
    expect(calls).toEqual(['getHealth']);
    expect(reported).toHaveLength(1);
    expect(String((reported[0]?.error as Error).message)).toMatch(/getHealth answered 200, which breaks the contract/);
  });

  test('When a handler throws, then a 500 problem carries the request id and no internal detail', async () => {
    overrides.getHealth = () => {
      throw new Error('database password is hunter2');
    };
    const response = await fetch(`${baseUrl}/healthz`);
    expect(response.status).toBe(500);
    const requestId = response.headers.get('x-request-id');
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
    const text = await response.text();
    expect(text).not.toContain('hunter2');
    expect(JSON.parse(text)).toMatchObject({ code: 'internal_error', request_id: requestId, instance: '/healthz' });
  });

  test("When a caller sends its own X-Request-Id, then the request still gets the server's own id, and the handler sees the caller's as the client's", async () => {
    const seen: { requestId: string; clientRequestId: string | undefined }[] = [];
    overrides.getHealth = (_input, context) => {
      seen.push({ requestId: context.requestId, clientRequestId: context.clientRequestId });
      return { status: 200, body: { status: 'ok' } };
    };
    const first = await fetch(`${baseUrl}/healthz`, { headers: { 'X-Request-Id': 'req-123' } });
    const second = await fetch(`${baseUrl}/healthz`, { headers: { 'X-Request-Id': 'req-123' } });
    const invalid = await fetch(`${baseUrl}/healthz`, { headers: { 'X-Request-Id': 'not valid!' } });
    const ids = [first, second, invalid].map((response) => response.headers.get('x-request-id'));
    for (const id of ids) expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(new Set(ids).size).toBe(3);
    expect(seen).toEqual([
      { requestId: ids[0], clientRequestId: 'req-123' },
      { requestId: ids[1], clientRequestId: 'req-123' },
      { requestId: ids[2], clientRequestId: undefined },
    ]);
  });

  test('When an optional body is absent, then the handler gets undefined, and cookies do not disturb validation', async () => {
    overrides.refreshSession = (input) => {
      expect(input.body).toBeUndefined();
      expect(input.headers['Idempotency-Key']).toBe('k-1');
      return stubHandlers.refreshSession(input, undefined as never);
    };
    const response = await fetch(`${baseUrl}/v1/refresh`, {
      method: 'POST',
      headers: { 'X-API-Key': 'key', 'Idempotency-Key': 'k-1', Cookie: '__Host-aimable_refresh_demo=rt_cookie' },
    });
    expect(response.status).toBe(200);
    expect(calls).toEqual(['refreshSession']);
  });
});
