import { describe, expect, test } from 'vitest';
import { sha256Hex } from '../src/ids.js';
import { signInAt } from '@aimable/dev-idp';
import { ADMIN_API_KEY, API_KEY, apiClient, failure, loginThroughProvider, ManualClock, OTHER_API_KEY, OTHER_REDIRECT_URI, postSession, refresh, signIn, startHarness, startUrl, twoTenants, type Harness } from './support/harness.js';

interface AuditEvent {
  id: string;
  tenant: string;
  type: string;
  at: string;
  request_id: string | null;
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
    const h = await startHarness({
      tenants: (issuer) => {
        const file = twoTenants(issuer);
        file.tenants[1]!.api_keys = [{ id: 'k1', sha256: sha256Hex(OTHER_API_KEY), scopes: ['refresh', 'audit:read'] }];
        return file;
      },
    });
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
