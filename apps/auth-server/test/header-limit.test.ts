import { ContractJudge } from '@aimable/auth-openapi/judge';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startHarness, type Harness } from './support/harness.js';

/**
 * Node refuses a request whose request line and headers pass its limit
 * (16 KiB) before the application sees it: the answer is the contract's
 * `431` problem, and the lengths the contract allows stay within the limit.
 */
let h: Harness;
const judge = new ContractJudge();

beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => h?.close());

async function problemOf(response: Response): Promise<{ status: number; code: string; title: string }> {
  expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  return (await response.json()) as never;
}

describe('requests over the header limit', () => {
  test.each([
    ['a URL', (url: string) => fetch(`${url}/healthz?padding=${'a'.repeat(20_000)}`)],
    ['a header', (url: string) => fetch(`${url}/v1/auth/providers`, { headers: { 'X-Tenant-Id': 'alpha', 'X-Padding': 'a'.repeat(20_000) } })],
  ])('When %s passes the limit, then the answer is a 431 problem the contract declares', async (_, send) => {
    const response = await send(h.url);
    expect(response.status).toBe(431);
    const headers = Object.fromEntries(response.headers);
    const body = await problemOf(response);
    expect(body).toMatchObject({ status: 431, code: 'invalid_request', title: 'Invalid request' });
    expect(response.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(judge.judge({ operationId: 'getHealth', status: 431, headers, body })).toEqual([]);
    // The server goes on serving.
    expect((await fetch(`${h.url}/healthz`)).status).toBe(200);
  });

  test('When a callback carries the longest code, state and X-Request-Id the contract allows, each percent-encoded, then it is answered, not refused for its size', async () => {
    const code = '"'.repeat(4096);
    const state = '"'.repeat(512);
    const response = await fetch(`${h.url}/v1/auth/oidc/dev/callback?code=${encodeURIComponent(code)}&state=${encodeURIComponent(state)}`, {
      headers: { 'X-Request-Id': 'r'.repeat(256) },
      redirect: 'manual',
    });
    expect(response.status).toBe(400);
    expect((await problemOf(response)).code).toBe('invalid_state');
  });

  test.each([
    ['a code with a control character', `code=a%01b&state=s`, {}],
    ['a code with a character outside ASCII', `code=${encodeURIComponent('cöde')}&state=s`, {}],
    ['a state with a character outside ASCII', `code=c&state=${encodeURIComponent('stäte')}`, {}],
    ['an X-Request-Id longer than 256 characters', 'code=c&state=s', { 'X-Request-Id': 'r'.repeat(257) }],
  ])('When a callback carries %s, then 400 invalid_request', async (_, query, headers) => {
    const response = await fetch(`${h.url}/v1/auth/oidc/dev/callback?${query}`, { headers, redirect: 'manual' });
    expect(response.status).toBe(400);
    expect((await problemOf(response)).code).toBe('invalid_request');
  });
});
