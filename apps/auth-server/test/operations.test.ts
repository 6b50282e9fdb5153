import type { AddressInfo } from 'node:net';
import express from 'express';
import helmet from 'helmet';
import { describe, expect, test } from 'vitest';
import { FakeProvider } from './support/fake-provider.js';
import { loginThroughFake, ManualClock, postSession, problemCode, refresh, startHarness, startJson, startUrl } from './support/harness.js';

describe('rate limits', () => {
  test('When a client exceeds the limit on start, session or refresh, then 429 rate_limited with Retry-After', async () => {
    const h = await startHarness({
      config: {
        rateLimits: { start: { points: 3 }, session: { points: 3 }, refresh: { points: 3 } },
      },
    });
    try {
      const start = () =>
        fetch(startUrl(h).url, { headers: { 'X-Tenant-Id': 'alpha' }, redirect: 'manual' });
      const statuses = [];
      for (let i = 0; i < 4; i += 1) statuses.push((await start()).status);
      expect(statuses).toEqual([302, 302, 302, 429]);
      const limited = await start();
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(await problemCode(limited)).toBe('rate_limited');

      for (let i = 0; i < 3; i += 1) await refresh(h, 'rt_x');
      const refreshLimited = await refresh(h, 'rt_x');
      expect(refreshLimited.status).toBe(429);
    } finally {
      await h.close();
    }
  });
});

describe('who a limit counts', () => {
  test('When a trusted proxy forwards IPv6 clients, then addresses in one /64 share a limit and another /64 has its own', async () => {
    const h = await startHarness({ config: { trustProxy: ['loopback'], rateLimits: { refresh: { points: 2 } } } });
    try {
      const from = (address: string) => fetch(`${h.url}/v1/refresh`, { method: 'POST', headers: { 'X-API-Key': 'wrong', 'X-Forwarded-For': address } });
      expect((await from('2001:db8:1:2::1')).status).toBe(401);
      expect((await from('2001:db8:1:2:ffff::9')).status).toBe(401);
      expect((await from('2001:db8:1:2:0:0:0:77')).status).toBe(429);
      expect((await from('2001:db8:1:3::1')).status).toBe(401);
      expect((await from('192.0.2.1')).status).toBe(401);
    } finally {
      await h.close();
    }
  });

  test('When clients spread over many addresses, then the global cap still holds', async () => {
    const h = await startHarness({ config: { trustProxy: ['loopback'], rateLimits: { start: { points: 100, globalPoints: 3 } } } });
    try {
      const statuses = [];
      for (let i = 0; i < 5; i += 1) {
        const response = await fetch(startUrl(h).url, { headers: { 'X-Tenant-Id': 'alpha', 'X-Forwarded-For': `198.51.100.${i}` }, redirect: 'manual' });
        statuses.push(response.status);
      }
      expect(statuses).toEqual([302, 302, 302, 429, 429]);
      expect((await h.server.store.countRows()).loginStates).toBe(3);
    } finally {
      await h.close();
    }
  });

  test('When requests are refused anyway (a bad redirect, a wrong key), then they do not spend the global cap, and others still get through', async () => {
    const h = await startHarness({ config: { trustProxy: ['loopback'], rateLimits: { start: { points: 100, globalPoints: 2 }, refresh: { points: 100, globalPoints: 2 } } } });
    try {
      for (let i = 0; i < 10; i += 1) {
        const refused = await fetch(startUrl(h, { redirectUri: 'https://evil.example/cb' }).url, { headers: { 'X-Tenant-Id': 'alpha', 'X-Forwarded-For': `198.51.100.${i}` }, redirect: 'manual' });
        expect(refused.status).toBe(400);
        const wrongKey = await fetch(`${h.url}/v1/refresh`, { method: 'POST', headers: { 'X-API-Key': 'guess', 'X-Forwarded-For': `198.51.100.${i}` } });
        expect(wrongKey.status).toBe(401);
      }
      const victim = await fetch(startUrl(h).url, { headers: { 'X-Tenant-Id': 'alpha', 'X-Forwarded-For': '203.0.113.9' }, redirect: 'manual' });
      expect(victim.status).toBe(302);
    } finally {
      await h.close();
    }
  });

  test('When X-Forwarded-For arrives and no proxy is trusted, then the operator is warned once, and the header does not choose the bucket', async () => {
    const h = await startHarness({ config: { rateLimits: { refresh: { points: 2 } } } });
    try {
      const statuses = [];
      for (let i = 0; i < 3; i += 1) {
        statuses.push((await fetch(`${h.url}/v1/refresh`, { method: 'POST', headers: { 'X-API-Key': 'wrong', 'X-Forwarded-For': `203.0.113.${i}` } })).status);
      }
      expect(statuses).toEqual([401, 401, 429]);
      expect(h.logs.filter((line) => line.includes('AUTH_TRUST_PROXY is off'))).toHaveLength(1);
    } finally {
      await h.close();
    }
  });
});

describe('lifecycle', () => {
  test('When the server is closed, then a request in flight finishes and the port is released', async () => {
    const fake = await FakeProvider.start();
    const h = await startHarness({ issuer: fake.issuer });
    try {
      const login = await loginThroughFake(h, fake);
      fake.tokenDelayMs = 500;
      const inFlight = postSession(h, { code: login.code, state: login.state, code_verifier: login.verifier });
      await new Promise((resolve) => setTimeout(resolve, 200));
      const closing = h.server.close();
      expect((await inFlight).status).toBe(201);
      await closing;
      await expect(fetch(`${h.url}/healthz`)).rejects.toThrow();
    } finally {
      await h.close();
      await fake.close();
    }
  });

  test("When a request carries X-Request-Id, then the answer still names the server's own id, kept with the client's in the log", async () => {
    const h = await startHarness();
    try {
      const traced = (await fetch(`${h.url}/healthz`, { headers: { 'X-Request-Id': 'trace-42' } })).headers.get('x-request-id');
      expect(traced).toMatch(/^[0-9a-f-]{36}$/);
      expect((await fetch(`${h.url}/healthz`)).headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
      const line = h.logs.map((text) => JSON.parse(text) as Record<string, unknown>).find((entry) => entry.msg === 'request' && entry.req_id === traced);
      expect(line).toMatchObject({ req_id: traced, client_req_id: 'trace-42' });
      const helmet = await fetch(`${h.url}/healthz`);
      expect(helmet.headers.get('x-content-type-options')).toBe('nosniff');
      expect(helmet.headers.get('x-powered-by')).toBeNull();
    } finally {
      await h.close();
    }
  });

  test('When any answer leaves, a routed one or a 404, then it carries every security header helmet sets, as helmet sets it', async () => {
    const reference = express();
    reference.disable('x-powered-by');
    reference.use(helmet());
    reference.get('/', (_req, res) => res.end());
    const server = reference.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const h = await startHarness();
    try {
      const expected = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
      const names = ['content-security-policy', 'cross-origin-opener-policy', 'cross-origin-resource-policy', 'origin-agent-cluster', 'referrer-policy', 'strict-transport-security', 'x-content-type-options', 'x-dns-prefetch-control', 'x-download-options', 'x-frame-options', 'x-permitted-cross-domain-policies', 'x-xss-protection'];
      for (const response of [await fetch(`${h.url}/healthz`), await fetch(`${h.url}/no/such/route`)]) {
        for (const name of names) expect([name, response.headers.get(name)]).toEqual([name, expected.headers.get(name)]);
        expect(expected.headers.get('x-content-type-options')).toBe('nosniff');
      }
    } finally {
      await h.close();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('readiness', () => {
  test('When the keys could not be read again for three refresh intervals, then readiness answers 503 until they are', async () => {
    const manual = new ManualClock();
    const stale = await startHarness({ clock: manual, config: { keyRefreshSeconds: 60 } });
    try {
      manual.advance(3 * 60_000);
      expect((await fetch(`${stale.url}/readyz`)).status).toBe(200);
      manual.advance(1);
      const response = await fetch(`${stale.url}/readyz`);
      expect(response.status).toBe(503);
      expect(await problemCode(response)).toBe('service_unavailable');
      expect(stale.logs.join('\n')).toContain('keys could not be read again');
      await stale.server.keys.reload();
      expect((await fetch(`${stale.url}/readyz`)).status).toBe(200);
    } finally {
      await stale.close();
    }
  });

  test('When the database does not answer, then readiness answers 503', async () => {
    const broken = await startHarness();
    try {
      expect((await fetch(`${broken.url}/readyz`)).status).toBe(200);
      await broken.server.store.close();
      const response = await fetch(`${broken.url}/readyz`);
      expect(response.status).toBe(503);
      expect(await problemCode(response)).toBe('service_unavailable');
    } finally {
      await broken.close().catch(() => {});
    }
  });
});

describe('what a server error tells the client', () => {
  test('When a 5xx happens, then its body carries the generic text and the request id, never the internal message', async () => {
    const fake = await FakeProvider.start();
    const broken = await startHarness({ issuer: fake.issuer });
    try {
      const { authorizationUrl, state, verifier } = await startJson(broken);
      const code = fake.authorize(authorizationUrl);
      fake.dropTokenRequests = true;
      const response = await postSession(broken, { code, state, code_verifier: verifier });
      expect(response.status).toBe(502);
      const problem = (await response.json()) as { code: string; detail: string; request_id: string };
      expect(problem.code).toBe('provider_unavailable');
      expect(problem.detail).toBe('An unexpected error occurred. Quote the request id when reporting it.');
      expect(JSON.stringify(problem)).not.toMatch(/fetch failed|socket|ECONN|other side closed/i);
      expect(problem.request_id).toBe(response.headers.get('x-request-id'));
      expect(broken.logs.join('')).toMatch(new RegExp(`${problem.request_id}.*provider_unavailable`));
    } finally {
      await broken.close();
      await fake.close();
    }
  });
});
