import { freePort } from '@aimable/testing';
import { describe, expect, test } from 'vitest';
import { postSession, loginThroughProvider, refresh, signIn, startHarness } from './support/harness.js';

describe('the metrics listener', () => {
  test('When requests, logins, refreshes, replays and rate limits happen, then /metrics counts them per operation, status and tenant', async () => {
    const h = await startHarness({ config: { metricsPort: 0, rateLimits: { refresh: { points: 3 } } } });
    try {
      expect(h.server.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
      const grant = await signIn(h);
      const login = await loginThroughProvider(h);
      const body = { code: login.code, state: login.state, code_verifier: login.verifier };
      expect((await postSession(h, body, { key: 'same' })).status).toBe(201);
      expect((await postSession(h, body, { key: 'same' })).headers.get('idempotent-replayed')).toBe('true');
      expect((await refresh(h, grant.refresh_token)).status).toBe(200);
      await refresh(h, 'rt_unknown');
      await refresh(h, 'rt_unknown');
      expect((await refresh(h, 'rt_unknown')).status).toBe(429);
      await fetch(`${h.url}/v1/nothing-here`);

      const scrape = await fetch(h.server.metricsUrl!);
      expect(scrape.status).toBe(200);
      expect(scrape.headers.get('content-type')).toContain('text/plain');
      const text = await scrape.text();
      expect(text).toMatch(/^auth_http_requests_total\{operation="createSession",status="201"\} 3$/m);
      expect(text).toMatch(/^auth_http_request_duration_seconds_count\{operation="refreshSession",status="401"\} 2$/m);
      expect(text).toMatch(/^auth_http_requests_total\{operation="unrouted",status="404"\} 1$/m);
      expect(text).toMatch(/^auth_security_events_total\{tenant="alpha",type="session_created"\} 2$/m);
      expect(text).toMatch(/^auth_security_events_total\{tenant="alpha",type="session_refreshed"\} 1$/m);
      expect(text).toMatch(/^auth_security_events_total\{tenant="alpha",type="login"\} 2$/m);
      expect(text).toMatch(/^auth_idempotent_replays_total\{tenant="alpha",operation="createSession"\} 1$/m);
      expect(text).toMatch(/^auth_rate_limit_refusals_total\{tenant="alpha",operation="refreshSession"\} 1$/m);
      expect(text).toMatch(/^process_cpu_user_seconds_total /m);
      // SQLite has no pool: no pool gauges; its checkpoint worker has not failed.
      expect(text).not.toContain('auth_db_pool');
      expect(text).toMatch(/^auth_sqlite_checkpoints_total\{mode="restart"\} \d+$/m);
      expect(text).toMatch(/^auth_sqlite_checkpoint_worker_failed 0$/m);
      // Not on the API's port.
      expect((await fetch(`${h.url}/metrics`)).status).toBe(404);
    } finally {
      await h.close();
    }
  });

  test('When a token is configured, then a scrape without it, or with another, is 401, and with it is 200', async () => {
    const h = await startHarness({ config: { metricsPort: 0, metricsToken: 's3cret-scrape-token' } });
    try {
      const url = h.server.metricsUrl!;
      expect((await fetch(url)).status).toBe(401);
      expect((await fetch(url, { headers: { Authorization: 'Bearer wrong' } })).status).toBe(401);
      expect((await fetch(url, { headers: { Authorization: 'Bearer s3cret-scrape-token' } })).status).toBe(200);
    } finally {
      await h.close();
    }
  });

  test('When no metrics port is configured, then there is no listener; when two servers run in one process, then each counts its own', async () => {
    const port = await freePort();
    const none = await startHarness();
    const a = await startHarness({ config: { metricsPort: port } });
    const b = await startHarness({ config: { metricsPort: 0 } });
    try {
      expect(none.server.metricsUrl).toBeUndefined();
      expect(a.server.metricsUrl).toBe(`http://127.0.0.1:${port}/metrics`);
      await fetch(`${a.url}/healthz`);
      const countOf = async (url: string) => /^auth_http_requests_total\{operation="getHealth",status="200"\} (\d+)$/m.exec(await (await fetch(url)).text())?.[1];
      expect(await countOf(a.server.metricsUrl!)).toBe('1');
      expect(await countOf(b.server.metricsUrl!)).toBeUndefined();
    } finally {
      await Promise.all([none.close(), a.close(), b.close()]);
    }
    // Closed with its server.
    await expect(fetch(`http://127.0.0.1:${port}/metrics`)).rejects.toThrow();
  });
});
