import { operations } from '@aimable/auth-openapi';
import { ContractJudge } from '@aimable/auth-openapi/judge';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startMock, type RunningMock } from '../src/index.js';
import { missingRequiredHeaders } from '../src/scenarios.js';

let mock: RunningMock;
const judge = new ContractJudge();

beforeAll(async () => {
  mock = await startMock({ port: 0 });
}, 60_000);
afterAll(() => mock?.close());

const ACCESS_TOKEN = 'eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ1c3IifQ.c2ln';
const challenge = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM';
const json = { 'Content-Type': 'application/json' };

/** A request of each operation that the mock accepts. */
const valid: Record<string, { target: string; init?: RequestInit }> = {
  startOidcLogin: { target: `/v1/auth/oidc/google/start?tenant=demo&frontend_redirect_uri=http://localhost:5173/auth/callback&code_challenge=${challenge}&code_challenge_method=S256` },
  handleOidcCallback: { target: '/v1/auth/oidc/google/callback?code=c&state=s' },
  createSession: { target: '/v1/auth/oidc/session', init: { method: 'POST', headers: { ...json, 'Idempotency-Key': 'k' }, body: JSON.stringify({ code: 'c', state: 's', code_verifier: 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk' }) } },
  refreshSession: { target: '/v1/refresh', init: { method: 'POST', headers: { ...json, 'X-API-Key': 'ak_mock_demo' }, body: JSON.stringify({ refresh_token: 'rt_x' }) } },
  getCurrentSession: { target: '/v1/auth/session', init: { headers: { Authorization: `Bearer ${ACCESS_TOKEN}` } } },
  logout: { target: '/v1/auth/logout', init: { method: 'POST', headers: { Authorization: `Bearer ${ACCESS_TOKEN}` } } },
  listSessions: { target: '/v1/auth/sessions', init: { headers: { Authorization: `Bearer ${ACCESS_TOKEN}` } } },
  revokeSession: { target: '/v1/auth/sessions/ses_4f3c2b1a0e9d8c7b6a5f4e3d', init: { method: 'DELETE', headers: { Authorization: `Bearer ${ACCESS_TOKEN}` } } },
  listAuditEvents: { target: '/v1/admin/audit-events', init: { headers: { 'X-API-Key': 'ak_mock_demo' } } },
  listProviders: { target: '/v1/auth/providers', init: { headers: { 'X-Tenant-Id': 'demo' } } },
};

const scenarios = operations.flatMap((operation) =>
  valid[operation.operationId] === undefined ? [] : Object.keys(operation.responses).filter((status) => Number(status) >= 400).map((status) => [operation.operationId, status] as const),
);

describe('scenarios on demand', () => {
  test.each(scenarios)('When %s is asked for its %s with Prefer, then the mock answers it as the contract declares it, required headers included', async (operationId, status) => {
    const { target, init = {} } = valid[operationId]!;
    const response = await fetch(`${mock.url}${target}`, { ...init, headers: { ...(init.headers as Record<string, string>), Prefer: `code=${status}` }, redirect: 'manual' });
    expect(response.status).toBe(Number(status));
    const body = (await response.json()) as unknown;
    expect(judge.judge({ operationId, status: response.status, headers: Object.fromEntries(response.headers), body })).toEqual([]);
  });

  test.each([
    ['refresh_token_reused', 401],
    ['session_expired', 401],
    ['invalid_refresh_token', 401],
  ])('When a refresh asks for the example %s alone, then it gets that problem', async (example, status) => {
    const { target, init } = valid.refreshSession!;
    const response = await fetch(`${mock.url}${target}`, { ...init, headers: { ...(init!.headers as Record<string, string>), Prefer: `example=${example}` } });
    expect(response.status).toBe(status);
    expect(response.headers.get('www-authenticate')).toMatch(/^ApiKey/);
    expect(((await response.json()) as { code: string }).code).toBe(example);
  });

  test('When a 429 or a 503 is asked for, then it says when to retry', async () => {
    for (const code of [429, 503]) {
      const response = await fetch(`${mock.url}/v1/auth/session`, { headers: { Authorization: `Bearer ${ACCESS_TOKEN}`, Prefer: `code=${code}` } });
      expect(response.status).toBe(code);
      expect(Number(response.headers.get('retry-after'))).toBeGreaterThanOrEqual(0);
      expect(response.headers.get('retry-after')).not.toBeNull();
    }
  });

  test('When a scenario the operation does not declare is asked for, then 400 names the Prefer header', async () => {
    for (const prefer of ['code=503', 'example=refresh_token_reused']) {
      const response = await fetch(`${mock.url}/v1/auth/providers`, { headers: { 'X-Tenant-Id': 'demo', Prefer: prefer } });
      expect(response.status).toBe(400);
      expect(((await response.json()) as { errors: { location: string }[] }).errors[0]!.location).toBe('headers.prefer');
    }
  });

  test('When an invalid request asks for a scenario, then it is still refused as the server refuses it', async () => {
    const response = await fetch(`${mock.url}/v1/refresh`, { method: 'POST', headers: { 'X-API-Key': 'ak_live_of_nobody', Prefer: 'code=429' } });
    expect(response.status).toBe(401);
    expect(((await response.json()) as { code: string }).code).toBe('invalid_api_key');
  });
});

describe('required headers of a scenario', () => {
  const refresh = operations.find((operation) => operation.operationId === 'refreshSession')!;

  test('When an answer lacks a header its response requires, then it is filled from the header’s example', () => {
    expect(missingRequiredHeaders(refresh, 429, () => false)).toEqual({ 'Retry-After': '1' });
    expect(missingRequiredHeaders(refresh, 401, () => false)).toEqual({ 'WWW-Authenticate': 'ApiKey realm="aimable-auth", header="X-API-Key"' });
  });

  test('When an answer has every required header, or the status is not declared, then nothing is added', () => {
    expect(missingRequiredHeaders(refresh, 429, () => true)).toEqual({});
    expect(missingRequiredHeaders(refresh, 418, () => false)).toEqual({});
  });
});
