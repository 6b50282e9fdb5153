import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { ApiProblem as ApiProblemClass, createApiRouter, type Handlers } from '../src/index.js';
import { problemOf } from './problem-of.js';
import { stubHandlers } from './stub-handlers.js';

describe('createApiRouter with a security step', () => {
  interface Caller {
    tenant: string;
  }
  const seen: unknown[] = [];
  const limited: string[] = [];
  let app: Server;
  let url: string;

  beforeAll(async () => {
    const handlers: Handlers<{ ApiKey: Caller; BearerAuth: Caller }> = {
      ...(stubHandlers as unknown as Handlers<{ ApiKey: Caller; BearerAuth: Caller }>),
      refreshSession: ({ security }) => {
        seen.push(security.ApiKey);
        return { status: 200, body: { access_token: 'at', token_type: 'Bearer', expires_in: 900, session: { id: 'ses_1', provider: 'dev', created_at: '2026-11-28T10:00:00.000Z', last_refreshed_at: '2026-11-28T10:00:00.000Z', expires_at: '2026-12-28T10:00:00.000Z', idle_expires_at: '2026-12-05T10:00:00.000Z' }, user: { id: 'usr_1', email: null, email_verified: false, name: null, picture: null } } };
      },
      getCurrentSession: ({ security }) => {
        seen.push(security.BearerAuth);
        throw new ApiProblemClass({ status: 401, code: 'invalid_access_token', headers: { 'WWW-Authenticate': 'Bearer' } });
      },
    };
    const server = express();
    server.use(
      createApiRouter(handlers, {
        validateResponses: true,
        before: [
          (req, _res, next) => {
            if (req.get('x-refuse') === 'yes') throw new ApiProblemClass({ status: 403, code: 'origin_not_allowed', detail: 'refused first' });
            next();
          },
        ],
        beforeOperation: {
          refreshSession: [
            (req, _res, next) => {
              limited.push(req.path);
              next();
            },
          ],
        },
        security: {
          ApiKey: ({ credential }) => {
            if (credential !== 'good-key') throw new ApiProblemClass({ status: 401, code: 'invalid_api_key', detail: 'not a key', headers: { 'WWW-Authenticate': 'ApiKey header="X-API-Key"' } });
            return { tenant: 'acme' };
          },
          BearerAuth: async ({ credential }) => ({ tenant: `bearer:${credential}` }),
        },
      }),
    );
    app = await new Promise<Server>((resolve) => {
      const listening = server.listen(0, '127.0.0.1', () => resolve(listening));
    });
    url = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => app.close(() => resolve())));
  beforeEach(() => {
    seen.length = 0;
    limited.length = 0;
  });

  const refresh = (headers: Record<string, string>) =>
    fetch(`${url}/v1/refresh`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify({ refresh_token: 'rt_x' }) });

  test('When the credential resolves, then the handler gets the resolved caller as typed input', async () => {
    expect((await refresh({ 'X-API-Key': 'good-key' })).status).toBe(200);
    expect(seen).toEqual([{ tenant: 'acme' }]);
  });

  test('When the resolver refuses the credential, or it is missing, then the 401 carries the scheme’s code and the handler never runs', async () => {
    const refused = await refresh({ 'X-API-Key': 'bad-key' });
    expect(refused.status).toBe(401);
    expect((await problemOf(refused)).code).toBe('invalid_api_key');
    const missing = await refresh({});
    expect((await problemOf(missing)).code).toBe('invalid_api_key');
    const noBearer = await fetch(`${url}/v1/auth/session`);
    expect((await problemOf(noBearer)).code).toBe('invalid_access_token');
    expect(noBearer.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(seen).toEqual([]);
  });

  test('When a before middleware refuses, then its problem is answered with the request id, before validation and the handler', async () => {
    const response = await fetch(`${url}/v1/refresh`, { method: 'POST', headers: { 'x-refuse': 'yes', 'X-Request-Id': 'req-7' }, body: 'not json' });
    expect(response.status).toBe(403);
    expect(await problemOf(response)).toMatchObject({ code: 'origin_not_allowed', request_id: response.headers.get('x-request-id'), detail: 'refused first' });
    expect(limited).toEqual([]);
  });

  test('When an operation has its own middleware, then it runs for that operation only, before the request is validated', async () => {
    await fetch(`${url}/v1/refresh`, { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-API-Key': 'good-key' }, body: '{"refresh_token": 5}' });
    await fetch(`${url}/healthz`);
    expect(limited).toEqual(['/v1/refresh']);
  });
});
