import { signInAt } from '@aimable/dev-idp';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { FakeProvider } from './support/fake-provider.js';
import { loginThroughFake, loginThroughProvider, ManualClock, pkcePair, postSession, problemCode, refresh, startHarness, startUrl, type Harness } from './support/harness.js';
import { pkceOptional } from './support/tenants.js';

describe('Idempotency-Key on session creation', () => {
  let fake: FakeProvider;
  let h: Harness;

  beforeAll(async () => {
    fake = await FakeProvider.start();
    h = await startHarness({ issuer: fake.issuer });
  });
  afterAll(async () => {
    await h?.close();
    await fake?.close();
  });

  test('When 50 identical session requests race, then exactly one session and one token exchange happen, and every answer is the same 201 or a 409', async () => {
    const login = await loginThroughFake(h, fake);
    const before = await h.server.store.countRows();
    const exchangesBefore = fake.tokenRequests;
    fake.tokenDelayMs = 300;
    const body = { code: login.code, state: login.state, code_verifier: login.verifier, refresh_token_delivery: 'body' };
    const responses = await Promise.all(Array.from({ length: 50 }, () => postSession(h, body, { key: 'race-key-1' })));
    fake.tokenDelayMs = 0;

    const statuses = responses.map((r) => r.status);
    expect(statuses.every((s) => s === 201 || s === 409)).toBe(true);
    const created = responses.filter((r) => r.status === 201);
    expect(created.length).toBeGreaterThanOrEqual(1);
    const bodies = await Promise.all(created.map((r) => r.text()));
    expect(new Set(bodies).size).toBe(1);
    for (const conflict of responses.filter((r) => r.status === 409)) {
      expect(conflict.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(await problemCode(conflict)).toBe('idempotency_key_in_use');
    }
    const after = await h.server.store.countRows();
    expect(after.sessions - before.sessions).toBe(1);
    expect(fake.tokenRequests - exchangesBefore).toBe(1);

    // Once completed, a retry replays the very same response and creates nothing.
    const retry = await postSession(h, body, { key: 'race-key-1' });
    expect(retry.status).toBe(201);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(await retry.text()).toBe(bodies[0]);
    expect((await h.server.store.countRows()).sessions).toBe(after.sessions);
    expect(fake.tokenRequests - exchangesBefore).toBe(1);
  });

  test('When the same key comes with a different body, then 422 idempotency_key_reused', async () => {
    const login = await loginThroughFake(h, fake);
    const first = await postSession(h, { code: login.code, state: login.state, code_verifier: login.verifier }, { key: 'reuse-key' });
    expect(first.status).toBe(201);
    const other = await postSession(h, { code: 'another-code', state: login.state, code_verifier: login.verifier }, { key: 'reuse-key' });
    expect(other.status).toBe(422);
    expect(await problemCode(other)).toBe('idempotency_key_reused');
  });

  test('When body keys come in another order, then it is the same request', async () => {
    const login = await loginThroughFake(h, fake);
    const first = await postSession(h, { code: login.code, state: login.state, code_verifier: login.verifier }, { key: 'order-key' });
    const second = await postSession(h, { code_verifier: login.verifier, state: login.state, code: login.code }, { key: 'order-key' });
    expect(second.status).toBe(first.status);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
  });

  test('When the key is missing, then 400 idempotency_key_missing and nothing is stored', async () => {
    const before = await h.server.store.countRows();
    const response = await fetch(`${h.url}/v1/auth/oidc/session`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Tenant-Id': 'alpha' },
      body: JSON.stringify({ code: 'c', state: 's' }),
    });
    expect(response.status).toBe(400);
    expect(await problemCode(response)).toBe('idempotency_key_missing');
    expect(await h.server.store.countRows()).toEqual(before);
  });

  test('When a key is too long or not printable, then 400 invalid_request', async () => {
    for (const key of ['k'.repeat(256), 'tab\tkey']) {
      const response = await fetch(`${h.url}/v1/auth/oidc/session`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-Tenant-Id': 'alpha', 'Idempotency-Key': key },
        body: JSON.stringify({ code: 'c', state: 's' }),
      });
      expect(response.status).toBe(400);
    }
  });

  test('When a login fails with a 4xx, then the answer is stored and replayed, not run again', async () => {
    const login = await loginThroughFake(h, fake);
    const body = { code: 'a-code-the-provider-never-issued', state: login.state, code_verifier: login.verifier };
    const exchangesBefore = fake.tokenRequests;
    const first = await postSession(h, body, { key: 'fail-key' });
    expect(first.status).toBe(401);
    expect(await problemCode(first.clone())).toBe('invalid_grant');
    const firstBody = await first.text();
    const again = await postSession(h, body, { key: 'fail-key' });
    expect(again.status).toBe(401);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(await again.text()).toBe(firstBody);
    expect(fake.tokenRequests - exchangesBefore).toBe(1);
  });

  test('When the state is unknown, then 401 invalid_state and nothing is stored, not even the key', async () => {
    const before = await h.server.store.countRows();
    const response = await postSession(h, { code: 'c', state: 'no-such-state' }, { key: 'unknown-state-key' });
    expect(response.status).toBe(401);
    expect(await problemCode(response)).toBe('invalid_state');
    expect(await h.server.store.countRows()).toEqual(before);
  });

  test('When the provider is unreachable (5xx), then nothing is stored and a retry with the same key succeeds', async () => {
    const login = await loginThroughFake(h, fake);
    const body = { code: login.code, state: login.state, code_verifier: login.verifier };
    fake.dropTokenRequests = true;
    const failed = await postSession(h, body, { key: 'outage-key' });
    fake.dropTokenRequests = false;
    expect(failed.status).toBe(502);
    expect(await problemCode(failed)).toBe('provider_unavailable');
    const retried = await postSession(h, body, { key: 'outage-key' });
    expect(retried.headers.get('idempotent-replayed')).toBeNull();
    expect(retried.status).toBe(201);
  });

  test('When a refresh is retried with the same key, then the same grant is replayed and the token rotates once', async () => {
    const login = await loginThroughFake(h, fake);
    const created = (await (await postSession(h, { code: login.code, state: login.state, code_verifier: login.verifier, refresh_token_delivery: 'body' })).json()) as { refresh_token: string };
    const first = await refresh(h, created.refresh_token, { key: 'refresh-key' });
    const second = await refresh(h, created.refresh_token, { key: 'refresh-key' });
    expect(first.status).toBe(200);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    expect(await second.text()).toBe(await first.text());
  });
});

describe('a session-creation replay never hands out a grant that has moved on', () => {
  const clock = new ManualClock();
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ clock });
  });
  afterAll(() => h?.close());

  async function created(key: string) {
    const login = await loginThroughProvider(h);
    const body = { code: login.code, state: login.state, code_verifier: login.verifier, refresh_token_delivery: 'body' };
    const first = await postSession(h, body, { key });
    expect(first.status).toBe(201);
    return { body, grant: (await first.json()) as { access_token: string; refresh_token: string } };
  }

  test('When the same request is retried while the session is fresh, then the same grant is replayed', async () => {
    const { body, grant } = await created('fresh-replay');
    const replay = await postSession(h, body, { key: 'fresh-replay' });
    expect(replay.status).toBe(201);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(((await replay.json()) as { refresh_token: string }).refresh_token).toBe(grant.refresh_token);
  });

  test('When it is retried after logout, then 401 and no token', async () => {
    const { body, grant } = await created('after-logout');
    expect((await fetch(`${h.url}/v1/auth/logout`, { method: 'POST', headers: { Authorization: `Bearer ${grant.access_token}` } })).status).toBe(204);
    const replay = await postSession(h, body, { key: 'after-logout' });
    expect(replay.status).toBe(401);
    const text = await replay.text();
    expect(JSON.parse(text).code).toBe('invalid_state');
    expect(text).not.toContain('rt_');
    expect(replay.headers.get('set-cookie')).toBeNull();
  });

  test('When it is retried after the first refresh, then 401: the replay would hand out a retired token', async () => {
    const { body, grant } = await created('after-refresh');
    expect((await refresh(h, grant.refresh_token)).status).toBe(200);
    clock.advance(11_000);
    const replay = await postSession(h, body, { key: 'after-refresh' });
    expect(replay.status).toBe(401);
    expect(await replay.text()).not.toContain('rt_');
  });

  test('When the key and the code and state are replayed with another verifier, then no grant, and nothing is stored', async () => {
    const { body } = await created('stolen-key');
    const before = await h.server.store.countRows();
    const replay = await postSession(h, { ...body, code_verifier: pkcePair().verifier }, { key: 'stolen-key' });
    expect(replay.status).toBe(401);
    expect(await replay.text()).not.toContain('rt_');
    expect(await h.server.store.countRows()).toEqual(before);
  });

  test('When it is retried after the state has expired but before any refresh, then it is still replayed', async () => {
    const { body, grant } = await created('late-retry');
    clock.advance(11 * 60 * 1000);
    await h.server.store.prune(clock.now());
    const replay = await postSession(h, body, { key: 'late-retry' });
    expect(replay.status).toBe(201);
    expect(((await replay.json()) as { refresh_token: string }).refresh_token).toBe(grant.refresh_token);
  });

  test('When two logins use the same predictable key, then neither is refused: creation keys are scoped to the verifier', async () => {
    for (let i = 0; i < 2; i += 1) {
      const login = await loginThroughProvider(h);
      const response = await postSession(h, { code: login.code, state: login.state, code_verifier: login.verifier }, { key: 'login-1' });
      expect(response.status).toBe(201);
      expect(response.headers.get('idempotent-replayed')).toBeNull();
    }
  });

  test('When a session-creation replay comes after the session’s idle timeout, before any refresh, then 401', async () => {
    const login = await loginThroughProvider(h);
    const body = { code: login.code, state: login.state, code_verifier: login.verifier, refresh_token_delivery: 'body' };
    expect((await postSession(h, body, { key: 'idle-replay' })).status).toBe(201);
    clock.advance(7 * 24 * 3600 * 1000 + 1000);
    const replay = await postSession(h, body, { key: 'idle-replay' });
    expect(replay.status).toBe(401);
  });

  test('When a login without a verifier is retried with its key, then its grant is not replayed: the state alone may have leaked', async () => {
    const optional = await startHarness({ tenants: pkceOptional });
    try {
      const started = await fetch(startUrl(optional, { challenge: null }).url, { headers: { 'X-Tenant-Id': 'alpha' }, redirect: 'manual' });
      const back = new URL((await fetch(await signInAt(started.headers.get('location')!, { username: 'ada', password: 'password' }), { redirect: 'manual' })).headers.get('location')!);
      const body = { code: back.searchParams.get('code'), state: back.searchParams.get('state') };
      expect((await postSession(optional, body, { key: 'login-1' })).status).toBe(201);
      const replay = await postSession(optional, body, { key: 'login-1' });
      expect(replay.status).toBe(401);
      expect(await problemCode(replay)).toBe('invalid_state');
      expect(replay.headers.get('set-cookie')).toBeNull();
    } finally {
      await optional.close();
    }
  });
});
