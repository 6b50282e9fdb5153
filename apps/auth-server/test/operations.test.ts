import { describe, expect, test } from 'vitest';
import { FakeProvider } from './support/fake-provider.js';
import { loginThroughFake, postSession, problemCode, refresh, startHarness, startUrl } from './support/harness.js';

describe('rate limits', () => {
  test('When a client exceeds the limit on start, session or refresh, then 429 rate_limited with Retry-After', async () => {
    const h = await startHarness({
      config: {
        rateLimits: {
          start: { points: 3, durationSeconds: 60 },
          session: { points: 3, durationSeconds: 60 },
          refresh: { points: 3, durationSeconds: 60 },
        },
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

  test('When a request carries X-Request-Id, then it is echoed; otherwise one is generated', async () => {
    const h = await startHarness();
    try {
      expect((await fetch(`${h.url}/healthz`, { headers: { 'X-Request-Id': 'trace-42' } })).headers.get('x-request-id')).toBe('trace-42');
      expect((await fetch(`${h.url}/healthz`)).headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
      const helmet = await fetch(`${h.url}/healthz`);
      expect(helmet.headers.get('x-content-type-options')).toBe('nosniff');
      expect(helmet.headers.get('x-powered-by')).toBeNull();
    } finally {
      await h.close();
    }
  });
});
