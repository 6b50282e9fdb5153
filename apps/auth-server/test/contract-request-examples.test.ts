import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { exampleRequest, operations, sendTo } from './support/contract-requests.js';
import { EXAMPLE_API_KEY, EXAMPLE_REDIRECT_URI, exampleTenant } from './support/example-tenant.js';
import { signIn, startHarness, type Harness } from './support/harness.js';

/**
 * Every request example of the contract, sent as written (with a real key
 * and access token where the operation needs one): it is accepted, or,
 * where an example names what only the server can give (a login state, a
 * refresh token, a session), answered as the operation's description says.
 */
const REFUSED_AS_DOCUMENTED: Record<string, { status: number; code: string; why: string }> = {
  handleOidcCallback: { status: 400, code: 'invalid_state', why: 'an unknown state has no safe place to redirect to' },
  receiveOidcFormPost: { status: 400, code: 'invalid_state', why: 'an unknown state has no safe place to redirect to' },
  backchannelLogout: { status: 400, code: 'invalid_logout_token', why: "the example's logout token is signed by no key of the provider" },
  createSession: { status: 401, code: 'invalid_state', why: 'the example state was never issued' },
  refreshSession: { status: 401, code: 'invalid_refresh_token', why: 'the example refresh token was never issued' },
  revokeSession: { status: 404, code: 'not_found', why: "the example session is not the caller's" },
};

let h: Harness;
let accessToken: string;

beforeAll(async () => {
  h = await startHarness({ tenants: exampleTenant });
  accessToken = (await signIn(h, { tenant: 'demo', provider: 'google', redirectUri: EXAMPLE_REDIRECT_URI })).access_token;
});
afterAll(() => h?.close());

// Logout ends the session the token belongs to: last.
const ordered = [...operations].sort((a, b) => Number(a.operationId === 'logout') - Number(b.operationId === 'logout'));

describe("the contract's request examples, sent to the server", () => {
  test.each(ordered.map((operation) => [operation.operationId, operation] as const))('When the example request of %s is sent, then it is accepted or refused as documented', async (_, operation) => {
    const response = await sendTo(h.url, exampleRequest(operation, { apiKey: EXAMPLE_API_KEY, accessToken }));
    const text = await response.text();
    const refusal = REFUSED_AS_DOCUMENTED[operation.operationId];
    if (refusal) {
      expect({ status: response.status, code: (JSON.parse(text) as { code?: string }).code }, refusal.why).toEqual({ status: refusal.status, code: refusal.code });
      return;
    }
    expect(response.status, text).toBeLessThan(400);
    expect(Object.keys(operation.responses).map(Number)).toContain(response.status);
  });
});
