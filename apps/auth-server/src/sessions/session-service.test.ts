import { generateKeyPairSync, randomBytes } from 'node:crypto';
import type { ApiProblem } from '@aimable/auth-server-kit';
import type { JWK } from 'jose';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { sha256Hex } from '../ids.js';
import type { ProviderClients } from '../oidc/provider-client.js';
import type { AuthStore } from '../store/auth-store.js';
import { openSqliteStore } from '../store/sqlite/sqlite-store.js';
import { TenantRegistry } from '../tenants/tenant-registry.js';
import { AccessTokens } from '../tokens/access-tokens.js';
import { KeyRing } from '../tokens/key-ring.js';
import type { Sealing } from '../tokens/sealing.js';
import { tenantConfig } from '../../test/support/tenants.js';
import { SessionService, type Authenticated } from './session-service.js';

const tenant = tenantConfig({ id: 't' });
const now = 1_800_000_000_000;
let store: AuthStore;
let sessions: SessionService;
let sealer: Sealing;
const events = { created: vi.fn(), refreshed: vi.fn(), graceReplay: vi.fn(), reuseDetected: vi.fn(), ended: vi.fn() };

beforeEach(async () => {
  ({ store } = await openSqliteStore(':memory:'));
  const keys = await KeyRing.open(store, { now: () => now }, { publishOverlapMs: 0, refreshMs: 60_000 });
  sessions = new SessionService(
    store,
    new TenantRegistry([tenant]),
    {} as ProviderClients,
    new AccessTokens(keys, 'https://auth.example', 'api', () => tenant.sessionPolicy.accessTokenTtlSeconds),
    (sealer = keys.sealing),
    { now: () => now },
    () => 'https://auth.example/cb',
    events,
  );
  await store.upsertUser({ id: 'usr_1', tenantId: 't', issuer: 'https://idp', subject: 's', email: null, emailVerified: false, name: null, picture: null, createdAt: now, updatedAt: now });
  await store.insertSession({ id: 'ses_1', tenantId: 't', userId: 'usr_1', providerId: 'p', createdAt: now, lastRefreshedAt: now, expiresAt: now + 3_600_000, idleExpiresAt: now + 3_600_000, revokedAt: null, revokedReason: null });
  await store.insertRefreshToken({ id: 'rtk_1', tenantId: 't', sessionId: 'ses_1', tokenHash: sha256Hex('rt_first'), createdAt: now, retiredAt: null, replacedBy: null, graceGrant: null, graceExpiresAt: null });
});
afterEach(() => store.close());

describe('refresh rotation under races', () => {
  test('When the rotation fails for a reason of its own, then the error stands, the session lives on and the token is not retired', async () => {
    const error = await sessions
      .refresh(tenant, 'rt_first', 'body', {
        withinIssue: async () => {
          throw new Error('disk full');
        },
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toBe('disk full');
    expect((await store.findSession('t', 'ses_1'))?.revokedAt).toBeNull();
    expect((await store.findRefreshToken('t', 'rtk_1'))?.retiredAt).toBeNull();
    expect(events.reuseDetected).not.toHaveBeenCalled();
  });

  test('When a retired token comes back within the window, then no rotation is attempted (nothing counts against the caps)', async () => {
    await sessions.refresh(tenant, 'rt_first', 'body');
    const beforeRotate = vi.fn(async () => {});
    await sessions.refresh(tenant, 'rt_first', 'body', { beforeRotate });
    expect(beforeRotate).not.toHaveBeenCalled();
  });

  test('When another refresh of the same token commits first, then this one rolls back and answers that refresh’s grant, and the token has one successor', async () => {
    let first: Awaited<ReturnType<SessionService['refresh']>> | undefined;
    const second = await sessions.refresh(tenant, 'rt_first', 'body', {
      beforeRotate: async () => {
        first = await sessions.refresh(tenant, 'rt_first', 'body');
      },
    });
    expect(second.refreshToken).toBe(first!.refreshToken);
    expect(second.accessToken).toBe(first!.accessToken);
    expect((await store.countRows()).refreshTokens).toBe(2);
  });

  test('When the session is revoked while the refresh runs, then nothing is issued and the answer is the end of the session', async () => {
    const error = (await sessions
      .refresh(tenant, 'rt_first', 'body', {
        beforeRotate: async () => {
          await store.revokeSession('t', 'ses_1', 'logout', now);
        },
      })
      .catch((e: unknown) => e)) as ApiProblem;
    expect(error).toMatchObject({ status: 401, code: 'invalid_refresh_token' });
    expect((await store.countRows()).refreshTokens).toBe(1);
    expect((await store.findRefreshToken('t', 'rtk_1'))?.retiredAt).toBeNull();
  });

  test('When the session is revoked for reuse while the refresh runs, then the answer says so', async () => {
    const error = (await sessions
      .refresh(tenant, 'rt_first', 'body', { beforeRotate: async () => void (await store.revokeSession('t', 'ses_1', 'refresh_token_reused', now)) })
      .catch((e: unknown) => e)) as ApiProblem;
    expect(error).toMatchObject({ status: 401, code: 'refresh_token_reused' });
  });
});

describe('grace grants across an upgrade', () => {
  test('When a grace grant sealed by the previous release is still within its window, then the retired token is answered with its grant on its own channel only, not revoked', async () => {
    const previous = {
      issued: {
        grant: { access_token: 'at_from_before', token_type: 'Bearer', expires_in: 900, session: { id: 'ses_1' }, user: { id: 'usr_1' } },
        refreshToken: 'rt_second',
        refreshTokenId: 'rtk_2',
        refreshTokenMaxAge: 3600,
        sameSite: 'Strict',
      },
      channel: 'cookie',
    };
    await store.insertRefreshToken({ id: 'rtk_2', tenantId: 't', sessionId: 'ses_1', tokenHash: sha256Hex('rt_second'), createdAt: now, retiredAt: null, replacedBy: null, graceGrant: null, graceExpiresAt: null });
    await store.retireRefreshToken('t', 'rtk_1', { retiredAt: now, replacedBy: 'rtk_2', graceGrant: sealer.seal(JSON.stringify(previous), 'rtk_1'), graceExpiresAt: now + 10_000 });

    events.reuseDetected.mockClear();
    for (let replay = 0; replay < 2; replay += 1) {
      const replayed = await sessions.refresh(tenant, 'rt_first', 'cookie');
      expect(replayed).toMatchObject({ accessToken: 'at_from_before', expiresIn: 900, refreshToken: 'rt_second', refreshTokenId: 'rtk_2', sameSite: 'Strict' });
      expect(replayed.session).toMatchObject({ id: 'ses_1', userId: 'usr_1', revokedAt: null });
      expect(replayed.user).toMatchObject({ id: 'usr_1', emailVerified: false });
    }
    expect(events.reuseDetected).not.toHaveBeenCalled();
    // A cookie token never comes back in a JSON body: on the other channel it is a reuse.
    await expect(sessions.refresh(tenant, 'rt_first', 'body')).rejects.toMatchObject({ code: 'refresh_token_reused' });
  });
});

describe('what the service answers, exactly', () => {
  const loginState = { stateHash: 'h', tenantId: 't', providerId: 'gone', redirectUri: 'https://app/cb', pkceVerifier: 'v', nonce: 'n', codeChallenge: null, createdAt: now, expiresAt: now + 600_000, consumedAt: null };

  test('When a login is redeemed twice, then the second is refused as an unknown state; when its provider was removed meanwhile, as an invalid grant', async () => {
    await store.insertLoginState(loginState);
    const saved = (await store.findLiveLoginState('h', now))!;
    const request = { login: { tenant, stateHash: 'h', saved }, code: 'c', state: 's' };
    // The tenant no longer has the provider the login started with.
    await expect(sessions.create(request)).rejects.toMatchObject({ code: 'invalid_grant', detail: 'The identity provider of this login is no longer configured.' });
    await expect(sessions.create(request)).rejects.toMatchObject({ code: 'invalid_state', detail: 'The login state is unknown, expired or already used.' });
  });

  test('When an unknown refresh token is presented, then it is refused with what to do', async () => {
    await expect(sessions.refresh(tenant, 'rt_unknown', 'body')).rejects.toMatchObject({ code: 'invalid_refresh_token', detail: 'The refresh token is missing, unknown or no longer valid.' });
  });

  test('When the replay of a stored answer is checked for a token that is still current, then it may be replayed, and nothing is revoked', async () => {
    await expect(sessions.assertReplayable(tenant, 'rt_first', 'body')).resolves.toBeUndefined();
    expect((await store.findSession('t', 'ses_1'))?.revokedAt).toBeNull();
  });

  test('When a user revokes a session, then it is recorded as revoked by the user', async () => {
    const auth: Authenticated = { tenant, user: (await store.findUser('t', 'usr_1'))!, session: (await store.findSession('t', 'ses_1'))! };
    expect(await sessions.revoke(auth, 'ses_1')).toBe(true);
    expect(await store.findSession('t', 'ses_1')).toMatchObject({ revokedAt: now, revokedReason: 'revoked' });
  });

  test('When a user has exactly as many sessions as a page holds, then there is no next page', async () => {
    const auth: Authenticated = { tenant, user: (await store.findUser('t', 'usr_1'))!, session: (await store.findSession('t', 'ses_1'))! };
    expect(await sessions.list(auth, 1)).toMatchObject({ sessions: [{ id: 'ses_1' }], more: false });
    await store.insertSession({ id: 'ses_2', tenantId: 't', userId: 'usr_1', providerId: 'p', createdAt: now + 1, lastRefreshedAt: now, expiresAt: now + 3_600_000, idleExpiresAt: now + 3_600_000, revokedAt: null, revokedReason: null });
    expect(await sessions.list(auth, 1)).toMatchObject({ sessions: [{ id: 'ses_2' }], more: true });
  });
});
