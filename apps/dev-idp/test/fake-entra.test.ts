import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ENTRA_DIRECTORIES, startDevIdp, type RunningDevIdp } from '../src/index.js';

const CLIENT = { client_id: 'entra-app', client_secret: 'entra-secret', redirect_uris: ['http://localhost:9999/callback'] };
let idp: RunningDevIdp;

beforeAll(async () => {
  idp = await startDevIdp({ port: 0, clients: [{ client_id: 'oidc', client_secret: 's', redirect_uris: ['http://localhost/cb'] }], fakes: { entra: { clients: [CLIENT] } } });
});
afterAll(() => idp?.close());

/** Signs `username` in at the organizations endpoint: the code, and the verifier its challenge was made from. */
async function codeFor(username: string): Promise<{ code: string; verifier: string }> {
  const verifier = randomBytes(32).toString('base64url');
  const authorize = new URL(`${idp.issuer}/entra/organizations/oauth2/v2.0/authorize`);
  authorize.search = new URLSearchParams({
    client_id: CLIENT.client_id,
    redirect_uri: CLIENT.redirect_uris[0]!,
    response_type: 'code',
    scope: 'openid email profile',
    state: 's1',
    nonce: 'n1',
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
  }).toString();
  const chosen = await fetch(authorize, { method: 'POST', body: new URLSearchParams({ username }), redirect: 'manual' });
  expect(chosen.status).toBe(302);
  const back = new URL(chosen.headers.get('location')!);
  expect(back.searchParams.get('state')).toBe('s1');
  expect(back.searchParams.has('iss')).toBe(false);
  return { code: back.searchParams.get('code')!, verifier };
}

function redeem(fields: Record<string, string>): Promise<Response> {
  const form = { grant_type: 'authorization_code', redirect_uri: CLIENT.redirect_uris[0]!, client_id: CLIENT.client_id, client_secret: CLIENT.client_secret, ...fields };
  return fetch(`${idp.issuer}/entra/organizations/oauth2/v2.0/token`, { method: 'POST', body: new URLSearchParams(form) });
}

const claimsOf = (idToken: string) => JSON.parse(Buffer.from(idToken.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;

describe("dev-idp's fake of Microsoft Entra ID", () => {
  test('When discovery is asked for a multi-tenant directory, then it names the {tenantid} template; for a directory, that directory', async () => {
    const organizations = (await (await fetch(`${idp.issuer}/entra/organizations/v2.0/.well-known/openid-configuration`)).json()) as { issuer: string };
    expect(organizations.issuer).toBe(`${idp.issuer}/entra/{tenantid}/v2.0`);
    const fabrikam = (await (await fetch(`${idp.issuer}/entra/${ENTRA_DIRECTORIES.fabrikam}/v2.0/.well-known/openid-configuration`)).json()) as { issuer: string };
    expect(fabrikam.issuer).toBe(`${idp.issuer}/entra/${ENTRA_DIRECTORIES.fabrikam}/v2.0`);
  });

  test("When a code is redeemed with the secret and the verifier, then the ID token names the user's directory in iss and tid", async () => {
    const { code, verifier } = await codeFor('grace');
    const response = await redeem({ code, code_verifier: verifier });
    expect(response.status).toBe(200);
    const claims = claimsOf(((await response.json()) as { id_token: string }).id_token);
    expect(claims).toMatchObject({ iss: `${idp.issuer}/entra/${ENTRA_DIRECTORIES.fabrikam}/v2.0`, tid: ENTRA_DIRECTORIES.fabrikam, aud: CLIENT.client_id, nonce: 'n1', email: 'grace@example.com' });
    expect(claims.email_verified).toBeUndefined();
  });

  test('When a code is redeemed with a wrong secret, a wrong verifier, another redirect URI, or twice, then it is refused', async () => {
    const wrongSecret = await codeFor('ada');
    expect((await redeem({ code: wrongSecret.code, code_verifier: wrongSecret.verifier, client_secret: 'guess' })).status).toBe(401);

    const wrongVerifier = await codeFor('ada');
    expect(((await (await redeem({ code: wrongVerifier.code, code_verifier: 'x'.repeat(43) })).json()) as { error: string }).error).toBe('invalid_grant');

    const wrongRedirect = await codeFor('ada');
    expect((await redeem({ code: wrongRedirect.code, code_verifier: wrongRedirect.verifier, redirect_uri: 'http://localhost:9999/other' })).status).toBe(400);

    const twice = await codeFor('ada');
    expect((await redeem({ code: twice.code, code_verifier: twice.verifier })).status).toBe(200);
    expect((await redeem({ code: twice.code, code_verifier: twice.verifier })).status).toBe(400);
  });
});
