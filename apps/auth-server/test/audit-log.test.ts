import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { describe, expect, test } from 'vitest';
import { sha256Hex } from '../src/ids.js';
import { signInAt } from '@aimable/dev-idp';
import { apiClient, failure, loginThroughProvider, ManualClock, metricValue, postSession, refresh, signIn, startHarness, startUrl, type Harness } from './support/harness.js';
import { ADMIN_API_KEY, API_KEY, OTHER_API_KEY, OTHER_REDIRECT_URI, tenantsWith, twoTenants } from './support/tenants.js';

interface AuditEvent {
  id: string;
  tenant: string;
  type: string;
  at: string;
  count: number;
  request_id: string | null;
  client_request_id: string | null;
  session_id: string | null;
  user_id: string | null;
  client_address: string | null;
}

async function auditEvents(h: Harness, apiKey = ADMIN_API_KEY): Promise<AuditEvent[]> {
  const { data } = await apiClient(h, { apiKey }).listAuditEvents({ query: { limit: 100 } });
  return data.data as AuditEvent[];
}

describe('the audit log', () => {
  test('When a user signs in, refreshes, reuses a token and logs out, then each is recorded newest first with its request, session, user and client', async () => {
    const h = await startHarness();
    try {
      const login = await loginThroughProvider(h);
      const created = await postSession(h, { code: login.code, state: login.state, code_verifier: login.verifier, refresh_token_delivery: 'body' }, { key: 'create-1' });
      const grant = (await created.json()) as { refresh_token: string; access_token: string; session: { id: string }; user: { id: string } };
      const refreshed = await refresh(h, grant.refresh_token);
      const next = (await refreshed.json()) as { refresh_token: string; access_token: string };
      const other = await signIn(h);
      await apiClient(h, { accessToken: other.access_token }).logout({});

      const events = await auditEvents(h);
      expect(events.map((event) => event.type)).toEqual(['logout', 'session_created', 'login', 'session_refreshed', 'session_created', 'login']);
      const [, , , refreshEvent, createEvent] = events;
      expect(createEvent).toMatchObject({ tenant: 'alpha', session_id: grant.session.id, user_id: grant.user.id, request_id: created.headers.get('x-request-id') });
      expect(refreshEvent).toMatchObject({ session_id: grant.session.id, request_id: refreshed.headers.get('x-request-id') });
      expect(createEvent!.client_address).toMatch(/127\.0\.0\.1/);
      expect(events[0]).toMatchObject({ type: 'logout', session_id: other.session.id, user_id: other.user.id });

      // Every secret the flow handled: none of it is in the log, as read or as stored.
      const secrets = [...login.secrets, grant.refresh_token, grant.access_token, next.refresh_token, next.access_token, other.refresh_token, other.access_token, API_KEY, ADMIN_API_KEY];
      const stored = JSON.stringify(await h.server.store.listAuditEvents('alpha', { limit: 1000 }));
      const read = JSON.stringify(events);
      for (const secret of secrets) {
        expect(stored).not.toContain(secret);
        expect(read).not.toContain(secret);
      }
    } finally {
      await h.close();
    }
  });

  test('When the callback of one login is sent again and again, with any code, then the login is audited once', async () => {
    const h = await startHarness();
    try {
      const { url } = startUrl(h);
      const started = await fetch(url, { headers: { 'X-Tenant-Id': 'alpha' }, redirect: 'manual' });
      const providerReturn = new URL(await signInAt(started.headers.get('location')!, { username: 'ada', password: 'password' }));
      for (const code of [providerReturn.searchParams.get('code')!, 'junk-1', 'junk-2']) {
        providerReturn.searchParams.set('code', code);
        expect((await fetch(providerReturn, { redirect: 'manual' })).status).toBe(302);
      }
      expect((await auditEvents(h)).map((event) => event.type)).toEqual(['login']);
    } finally {
      await h.close();
    }
  });

  test('When a retired refresh token is reused, or the user revokes a session, then the log says so', async () => {
    const h = await startHarness();
    try {
      const first = await signIn(h);
      expect((await refresh(h, first.refresh_token)).status).toBe(200);
      // Outside the grace window's channel: the cookie channel was never used for it.
      expect((await refresh(h, first.refresh_token, { viaCookie: true })).status).toBe(401);
      const second = await signIn(h);
      const third = await signIn(h);
      await apiClient(h, { accessToken: third.access_token }).revokeSession({ path: { session_id: second.session.id } });
      const types = (await auditEvents(h)).map((event) => [event.type, event.session_id]);
      expect(types).toContainEqual(['refresh_token_reused', first.session.id]);
      expect(types[0]).toEqual(['session_revoked', second.session.id]);
    } finally {
      await h.close();
    }
  });

  test('When a page is full, then next_cursor leads to the rest, newest first, and the last page says null', async () => {
    const h = await startHarness();
    try {
      for (let i = 0; i < 3; i += 1) await signIn(h);
      const client = apiClient(h, { apiKey: ADMIN_API_KEY });
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const { data } = await client.listAuditEvents({ query: { limit: 4, ...(cursor ? { cursor } : {}) } });
        seen.push(...data.data.map((event) => event.id));
        cursor = data.next_cursor ?? undefined;
        pages += 1;
      } while (cursor);
      expect(pages).toBe(2);
      expect(seen).toEqual((await auditEvents(h)).map((event) => event.id));
      expect(new Set(seen).size).toBe(6);
      expect((await failure(client.listAuditEvents({ query: { cursor: 'bm90LWEtY3Vyc29y' } }))).code).toBe('invalid_request');
    } finally {
      await h.close();
    }
  });

  test('When a key lacks the audit:read scope, then 403 insufficient_scope, audited; an unknown key is 401 with its challenge and writes nothing', async () => {
    const h = await startHarness();
    try {
      const refused = await failure(apiClient(h, { apiKey: API_KEY }).listAuditEvents({}));
      expect([refused.status, refused.code]).toEqual([403, 'insufficient_scope']);
      const unknown = await fetch(`${h.url}/v1/admin/audit-events`, { headers: { 'X-API-Key': 'ak_nobody' } });
      expect(unknown.status).toBe(401);
      expect(unknown.headers.get('www-authenticate')).toBe('ApiKey realm="aimable-auth", header="X-API-Key"');
      const missing = await fetch(`${h.url}/v1/admin/audit-events`);
      expect(missing.status).toBe(401);
      expect(missing.headers.get('www-authenticate')).toContain('ApiKey');
      const events = await auditEvents(h);
      expect(events.map((event) => event.type)).toEqual(['api_key_refused']);
      expect(events[0]!.tenant).toBe('alpha');
    } finally {
      await h.close();
    }
  });

  test("When one tenant's key reads the log, then it sees its own tenant's events only", async () => {
    const h = await startHarness({ tenants: tenantsWith({ beta: { api_keys: [{ id: 'k1', sha256: sha256Hex(OTHER_API_KEY), scopes: ['refresh', 'audit:read'] }] } }) });
    try {
      await signIn(h, { tenant: 'beta', redirectUri: OTHER_REDIRECT_URI });
      await signIn(h);
      const alpha = await auditEvents(h);
      const beta = await auditEvents(h, OTHER_API_KEY);
      expect(new Set(alpha.map((event) => event.tenant))).toEqual(new Set(['alpha']));
      expect(new Set(beta.map((event) => event.tenant))).toEqual(new Set(['beta']));
      expect(beta.map((event) => event.type)).toEqual(['session_created', 'login']);
    } finally {
      await h.close();
    }
  });

  test('When the admin key refreshes, then 403 insufficient_scope and nothing is rotated', async () => {
    const h = await startHarness();
    try {
      const grant = await signIn(h);
      const refused = await refresh(h, grant.refresh_token, { apiKey: ADMIN_API_KEY });
      expect(refused.status).toBe(403);
      expect(((await refused.json()) as { code: string }).code).toBe('insufficient_scope');
      expect((await refresh(h, grant.refresh_token)).status).toBe(200);
    } finally {
      await h.close();
    }
  });

  test('When events are older than the retention, then the sweep deletes them and keeps the rest', async () => {
    const clock = new ManualClock();
    const h = await startHarness({ clock, config: { auditRetentionDays: 1 } });
    try {
      await signIn(h);
      clock.advance(23 * 3600 * 1000);
      await signIn(h);
      clock.advance(2 * 3600 * 1000);
      const swept = await h.server.store.prune(clock.now(), 24 * 3600 * 1000);
      expect(swept.auditEvents).toBe(2);
      // The two kept are of the second sign-in; at one instant of the test's clock, their order is the ids'.
      expect((await auditEvents(h)).map((event) => event.type).sort()).toEqual(['login', 'session_created']);
    } finally {
      await h.close();
    }
  });
});

/** Sends `total` requests, `concurrency` at a time, and counts their statuses. */
async function flood(total: number, concurrency: number, send: () => Promise<Response>): Promise<Map<number, number>> {
  const statuses = new Map<number, number>();
  let sent = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (sent < total) {
        sent += 1;
        const response = await send();
        await response.arrayBuffer();
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
      }
    }),
  );
  return statuses;
}

describe('the audit log under a flood of refusals', () => {
  test('When one client sends 10,000 requests that its public key may not make, then each is refused and counted, and the log grows by one row a minute that counts them all', async () => {
    const clock = new ManualClock();
    const h = await startHarness({ clock, config: { metricsPort: 0 } });
    try {
      const refuse = () => fetch(`${h.url}/v1/admin/audit-events`, { headers: { 'X-API-Key': API_KEY } });
      const statuses = await flood(9_000, 16, refuse);
      // The next minute: a row of its own.
      clock.advance(60_000);
      const later = await flood(1_000, 16, refuse);
      expect(statuses).toEqual(new Map([[403, 9_000]]));
      expect(later).toEqual(new Map([[403, 1_000]]));
      expect(await metricValue(h, 'auth_api_key_refusals_total{reason="insufficient_scope"}')).toBe(10_000);
      expect(await metricValue(h, 'auth_security_events_total{tenant="alpha",type="api_key_refused"}')).toBe(10_000);

      // The first refusal of each minute is in the log at once.
      const firsts = (await auditEvents(h)).filter((event) => event.type === 'api_key_refused');
      expect(firsts).toHaveLength(2);
      // Shutdown adds what was counted since the last flush.
      await h.server.close();
      const database = new SqliteDatabase(join(h.dataDir, 'auth.sqlite'), { readonly: true });
      try {
        const rows = database.prepare(`select at, count, request_id, client_address from audit_events where type = 'api_key_refused' order by at`).all() as { at: number; count: number; request_id: string; client_address: string }[];
        expect(rows.map((row) => row.count)).toEqual([9_000, 1_000]);
        expect(rows[1]!.at - rows[0]!.at).toBeGreaterThanOrEqual(60_000);
        expect(rows.map((row) => row.request_id)).toEqual(firsts.map((event) => event.request_id).reverse());
        expect(rows.every((row) => row.client_address === '127.0.0.1')).toBe(true);
      } finally {
        database.close();
      }
    } finally {
      await h.close();
    }
  }, 120_000);

  test("When another key or client is refused, then it has a row of its own; events that only the tenant's users cause are one row each", async () => {
    const h = await startHarness({
      config: { trustProxy: true },
      tenants: (issuer) => {
        const file = twoTenants(issuer);
        file.tenants[0]!.api_keys!.push({ id: 'k2', sha256: sha256Hex('ak_test_alpha_second_1d2e3f') });
        return file;
      },
    });
    try {
      const refuse = (key: string, client: string) => fetch(`${h.url}/v1/admin/audit-events`, { headers: { 'X-API-Key': key, 'X-Forwarded-For': client } });
      for (let i = 0; i < 3; i++) {
        for (const [key, client] of [[API_KEY, '203.0.113.7'], ['ak_test_alpha_second_1d2e3f', '203.0.113.7'], [API_KEY, '198.51.100.9']] as const) {
          expect((await refuse(key, client)).status).toBe(403);
        }
      }
      const first = await signIn(h);
      const second = await signIn(h);
      const refusals = (await auditEvents(h)).filter((event) => event.type === 'api_key_refused');
      expect(refusals.map((event) => event.client_address).sort()).toEqual(['198.51.100.9', '203.0.113.7', '203.0.113.7']);
      const created = (await auditEvents(h)).filter((event) => event.type === 'session_created');
      expect(created.map((event) => event.session_id).sort()).toEqual([first.session.id, second.session.id].sort());
      expect(created.every((event) => event.count === 1)).toBe(true);
    } finally {
      await h.close();
    }
  });
});

describe('the rate limit of calls with an API key or an access token', () => {
  test('When one client calls past its limit, then 429 rate_limited with Retry-After, before its key is checked or its refusal audited; another client is still served', async () => {
    const h = await startHarness({ config: { trustProxy: true, metricsPort: 0, rateLimits: { api: { points: 5 } } } });
    try {
      const grant = await signIn(h);
      const call = (client: string, headers: Record<string, string>, path = '/v1/admin/audit-events') => fetch(`${h.url}${path}`, { headers: { 'X-Forwarded-For': client, ...headers } });
      const statuses: number[] = [];
      for (let i = 0; i < 7; i++) statuses.push((await call('203.0.113.7', { 'X-API-Key': API_KEY })).status);
      expect(statuses).toEqual([403, 403, 403, 403, 403, 429, 429]);
      const limited = await call('203.0.113.7', { Authorization: `Bearer ${grant.access_token}` }, '/v1/auth/session');
      expect(limited.status).toBe(429);
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(await limited.json()).toMatchObject({ status: 429, code: 'rate_limited' });
      for (const path of ['/v1/auth/session', '/v1/auth/sessions']) {
        expect((await call('198.51.100.9', { Authorization: `Bearer ${grant.access_token}` }, path)).status).toBe(200);
      }
      expect(await metricValue(h, 'auth_api_key_refusals_total{reason="insufficient_scope"}')).toBe(5);
      // Every operation with an access token counts too, each time before the token is looked at.
      const calls: [string, RequestInit][] = [
        ['/v1/auth/sessions', {}],
        [`/v1/auth/sessions/${grant.session.id}`, { method: 'DELETE' }],
        ['/v1/auth/logout', { method: 'POST' }],
      ];
      for (const [index, [path, init]] of calls.entries()) {
        const client = `192.0.2.${index + 1}`;
        const answers: number[] = [];
        for (let i = 0; i < 6; i++) {
          const response = await fetch(`${h.url}${path}`, { ...init, headers: { 'X-Forwarded-For': client, Authorization: 'Bearer not-a-token' } });
          answers.push(response.status);
        }
        expect(answers, path).toEqual([401, 401, 401, 401, 401, 429]);
      }
    } finally {
      await h.close();
    }
  });
});

describe('request ids in the audit log', () => {
  test("When a client sends its own X-Request-Id, then the audit row's request id is the server's own and the client's is kept apart, so a forged id names no other request", async () => {
    const h = await startHarness();
    try {
      const login = await loginThroughProvider(h);
      const created = await postSession(h, { code: login.code, state: login.state, code_verifier: login.verifier, refresh_token_delivery: 'body' }, { key: 'create-1', headers: { 'X-Request-Id': 'forged-1' } });
      const grant = (await created.json()) as { refresh_token: string };
      const refreshed = await fetch(`${h.url}/v1/refresh`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-API-Key': API_KEY, 'X-Request-Id': 'forged-1' },
        body: JSON.stringify({ refresh_token: grant.refresh_token }),
      });
      expect(refreshed.status).toBe(200);
      const ids = [created.headers.get('x-request-id'), refreshed.headers.get('x-request-id')];
      for (const id of ids) expect(id).toMatch(/^[0-9a-f-]{36}$/);
      expect(ids[0]).not.toBe(ids[1]);
      const events = await auditEvents(h);
      const byType = (type: string) => events.find((event) => event.type === type)!;
      expect(byType('session_created')).toMatchObject({ request_id: ids[0], client_request_id: 'forged-1' });
      expect(byType('session_refreshed')).toMatchObject({ request_id: ids[1], client_request_id: 'forged-1' });
      // The log lines name the server's id, and the client's as the client's.
      const lines = h.logs.map((line) => JSON.parse(line) as Record<string, unknown>).filter((line) => line.msg === 'request' && line.client_req_id === 'forged-1');
      expect(lines.map((line) => line.req_id)).toEqual(ids);
    } finally {
      await h.close();
    }
  });
});
