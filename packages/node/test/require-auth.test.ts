/**
 * An API on Express, over HTTP, that requires the server's access tokens;
 * and the same refusal for the Fetch API. Each refusal is compared with the
 * server's own answer to an invalid access token.
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express from 'express';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { accessTokenProblemResponse, createVerifier, requireAuth } from '../src/index.js';
import { AUDIENCE, startAuthServer, type AuthServer } from './support/auth-server.js';

let auth: AuthServer;
let api: Server;
let apiUrl: string;
let alphaToken: string;
let betaToken: string;

beforeAll(async () => {
  auth = await startAuthServer();
  [alphaToken, betaToken] = await Promise.all([auth.signIn('alpha'), auth.signIn('beta')]);
  const verifier = createVerifier({ issuer: auth.url, audience: AUDIENCE });
  const unreachable = createVerifier({ issuer: auth.url, audience: AUDIENCE, jwksUri: 'http://127.0.0.1:1/jwks.json' });
  const app = express();
  app.get('/api/me', requireAuth({ verifier, tenant: 'alpha' }), (req, res) => {
    res.json(req.auth);
  });
  app.get('/api/any-tenant', requireAuth({ verifier, realm: 'aimable-auth' }), (req, res) => {
    res.json({ tenant: req.auth?.tenant });
  });
  app.get('/api/keys-down', requireAuth({ verifier: unreachable }), (_req, res) => {
    res.json({});
  });
  api = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => api.once('listening', resolve));
  apiUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
}, 60_000);

afterAll(async () => {
  await new Promise((resolve) => api?.close(resolve));
  await auth?.close();
});

const get = (path: string, headers: Record<string, string> = {}) => fetch(`${apiUrl}${path}`, { headers });

/** The server's own 401 for an invalid access token: what a client of Aimable already handles. */
async function serverRefusal(token: string): Promise<Response> {
  return fetch(`${auth.url}/v1/auth/session`, { headers: { Authorization: `Bearer ${token}` } });
}

describe('requireAuth', () => {
  test('When the request carries a valid token of the tenant, then the handler runs with req.auth set to its claims', async () => {
    const response = await get('/api/me', { Authorization: `Bearer ${alphaToken}` });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ iss: auth.url, aud: AUDIENCE, tenant: 'alpha', sub: expect.any(String), sid: expect.any(String) });
  });

  test('When the token is invalid, then the answer is the server\'s own 401 problem, with WWW-Authenticate: Bearer error="invalid_token"', async () => {
    const response = await get('/api/me', { Authorization: 'Bearer x.y.z', 'X-Request-Id': 'req-123' });
    expect(response.status).toBe(401);
    expect(response.headers.get('content-type')).toBe('application/problem+json; charset=utf-8');
    expect(response.headers.get('www-authenticate')).toBe('Bearer realm="aimable-auth", error="invalid_token"');
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toEqual({
      type: 'https://auth.aimable.dev/problems/invalid_access_token',
      title: 'Invalid access token',
      status: 401,
      detail: 'The access token is missing, invalid or expired.',
      instance: '/api/me',
      code: 'invalid_access_token',
      request_id: 'req-123',
    });
    const server = await serverRefusal('x.y.z');
    const serverBody = (await server.json()) as Record<string, unknown>;
    expect(response.headers.get('content-type')).toBe(server.headers.get('content-type'));
    expect({ type: body.type, title: body.title, status: body.status, code: body.code }).toEqual({ type: serverBody.type, title: serverBody.title, status: serverBody.status, code: serverBody.code });
  });

  test('When a realm is given, then the challenge is exactly the server\'s', async () => {
    const response = await get('/api/any-tenant', { Authorization: 'Bearer x.y.z' });
    expect(response.headers.get('www-authenticate')).toBe((await serverRefusal('x.y.z')).headers.get('www-authenticate'));
  });

  test('When the request has no token, then 401 with the Bearer challenge and its realm, and no error code', async () => {
    const response = await get('/api/me');
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe('Bearer realm="aimable-auth"');
    expect(await response.json()).toMatchObject({ code: 'invalid_access_token', detail: 'Authorization is missing.', request_id: expect.any(String) });
    expect((await get('/api/any-tenant')).headers.get('www-authenticate')).toBe('Bearer realm="aimable-auth"');
  });

  test('When the token is of another tenant than the route requires, then 401; a route that requires none accepts it', async () => {
    const refused = await get('/api/me', { Authorization: `Bearer ${betaToken}` });
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toBe('Bearer realm="aimable-auth", error="invalid_token"');
    const accepted = await get('/api/any-tenant', { Authorization: `Bearer ${betaToken}` });
    expect(await accepted.json()).toEqual({ tenant: 'beta' });
  });

  test('When the issuer\'s keys cannot be read, then 503 service_unavailable with Retry-After: the token is not blamed', async () => {
    const response = await get('/api/keys-down', { Authorization: `Bearer ${alphaToken}` });
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('5');
    expect(response.headers.get('www-authenticate')).toBeNull();
    expect(await response.json()).toMatchObject({ type: 'https://auth.aimable.dev/problems/service_unavailable', code: 'service_unavailable', status: 503 });
  });
});

describe('accessTokenProblemResponse', () => {
  test('When a Fetch API handler refuses a token, then its Response is the same 401 problem', async () => {
    const verifier = createVerifier({ issuer: auth.url, audience: AUDIENCE });
    const request = new Request('https://api.example/api/me?x=1', { headers: { Authorization: 'Bearer x.y.z' } });
    const response = await verifier.authenticate(request).then(
      () => new Response('accepted'),
      (error: unknown) => accessTokenProblemResponse(error, request),
    );
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe('Bearer realm="aimable-auth", error="invalid_token"');
    expect(response.headers.get('content-type')).toBe('application/problem+json; charset=utf-8');
    expect(await response.json()).toMatchObject({ code: 'invalid_access_token', instance: '/api/me' });
  });

  test('When the error is not a refused token, then it is thrown again', () => {
    const failure = new Error('database down');
    expect(() => accessTokenProblemResponse(failure, new Request('https://api.example/'))).toThrow(failure);
  });
});
