import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { CookieJar, signInAt, signOutAt, startDevIdp, type DevIdpClient, type RunningDevIdp } from '../src/index.js';

/** A relying party's back-channel logout endpoint: it keeps the logout tokens posted to it. */
let receiver: Server;
const received: string[] = [];
let idp: RunningDevIdp;
let client: DevIdpClient;
let endSession: string;

beforeAll(async () => {
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      received.push(new URLSearchParams(body).get('logout_token') ?? '');
      res.writeHead(200, { 'cache-control': 'no-store' }).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', () => resolve()));
  const rp = `http://localhost:${(receiver.address() as AddressInfo).port}`;
  client = {
    client_id: 'logout-rp',
    client_secret: 'logout-secret',
    redirect_uris: [`${rp}/callback`],
    post_logout_redirect_uris: [`${rp}/`],
    backchannel_logout_uri: `${rp}/backchannel-logout?tenant=t`,
  };
  idp = await startDevIdp({ port: 0, clients: [client] });
  endSession = ((await (await fetch(`${idp.issuer}/.well-known/openid-configuration`)).json()) as { end_session_endpoint: string }).end_session_endpoint;
});

afterAll(async () => {
  await idp?.close();
  receiver?.closeAllConnections();
  await new Promise<void>((resolve) => receiver?.close(() => resolve()));
});

/** Signs ada in with the browser's cookies, and exchanges the code: her ID token. */
async function signIn(cookies: CookieJar): Promise<string> {
  const verifier = randomBytes(32).toString('base64url');
  const params = new URLSearchParams({
    response_type: 'code',
    client_id: client.client_id,
    redirect_uri: client.redirect_uris[0]!,
    scope: 'openid email',
    state: 's',
    nonce: 'n',
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
  });
  const back = await signInAt(`${idp.issuer}/auth?${params}`, { username: 'ada', password: 'password' }, { cookies });
  const response = await fetch(`${idp.issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${client.client_id}:${client.client_secret}`).toString('base64')}` },
    body: new URLSearchParams({ grant_type: 'authorization_code', code: back.searchParams.get('code')!, redirect_uri: client.redirect_uris[0]!, code_verifier: verifier }),
  });
  return ((await response.json()) as { id_token: string }).id_token;
}

describe('sign-out at dev-idp', () => {
  test('When discovery is fetched, then it announces the end-session endpoint and back-channel logout with sid', async () => {
    const discovery = (await (await fetch(`${idp.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(discovery).toMatchObject({ end_session_endpoint: `${idp.issuer}/session/end`, backchannel_logout_supported: true, backchannel_logout_session_supported: true });
  });

  test('When a relying party sends the browser to sign out, then the page asks to confirm, the browser goes back to the post-logout URI, and the relying party gets a signed logout token naming the session', async () => {
    const cookies = new CookieJar();
    const idToken = await signIn(cookies);
    const claims = decodeJwt(idToken);
    expect(claims.sid).toEqual(expect.any(String));
    const url = `${endSession}?${new URLSearchParams({ id_token_hint: idToken, post_logout_redirect_uri: client.post_logout_redirect_uris![0]!, client_id: client.client_id })}`;

    const page = await fetch(url, { headers: { cookie: cookies.headerFor(new URL(url))! } });
    expect(page.status).toBe(200);
    // dev-idp's own page: no external resources, nothing but its inline style.
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");
    const html = await page.text();
    expect(html).toContain('Yes, sign me out');
    expect(html).not.toMatch(/https?:\/\/(?!localhost)/);

    received.length = 0;
    const landed = await signOutAt(url, { cookies });
    expect(landed.href).toBe(client.post_logout_redirect_uris![0]);
    expect(received).toHaveLength(1);
    const { payload } = await jwtVerify(received[0]!, createRemoteJWKSet(new URL(`${idp.issuer}/jwks`)), { issuer: idp.issuer, audience: client.client_id });
    expect(payload).toMatchObject({ sub: claims.sub, sid: claims.sid, events: { 'http://schemas.openid.net/event/backchannel-logout': {} }, jti: expect.any(String) });
    expect(payload.nonce).toBeUndefined();
  });

  test('When the post-logout URI is not registered, then dev-idp refuses to send the browser there', async () => {
    const cookies = new CookieJar();
    const idToken = await signIn(cookies);
    const response = await fetch(`${endSession}?${new URLSearchParams({ id_token_hint: idToken, post_logout_redirect_uri: 'https://evil.example/' })}`);
    expect(response.status).toBe(400);
    expect(await response.text()).toContain('post_logout_redirect_uri not registered');
  });

  test('When a client names a back-channel logout URI that is not http(s), then startDevIdp rejects naming the path', async () => {
    await expect(startDevIdp({ port: 0, clients: [{ ...client, backchannel_logout_uri: 'mailto:rp@example.com' }] })).rejects.toThrow('clients[0].backchannel_logout_uri must be an absolute http(s) URL');
  });
});
