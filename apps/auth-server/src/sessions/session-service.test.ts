import { generateKeyPairSync, randomBytes } from 'node:crypto';
import type { ApiProblem } from '@aimable/auth-server-kit';
import type { JWK } from 'jose';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { sha256Hex } from '../ids.js';
import type { ProviderClients } from '../oidc/provider-client.js';
import type { AuthStore } from '../store/auth-store.js';
import { openSqliteStore } from '../store/sqlite.js';
import { DEFAULT_SESSION_POLICY, type TenantConfig } from '../tenants/tenant.js';
import { TenantRegistry } from '../tenants/tenant-registry.js';
import { AccessTokens } from '../tokens/access-tokens.js';
import { keyMaterialFrom } from '../tokens/key-material.js';
import { Sealer } from '../tokens/sealing.js';
import { SessionService } from './session-service.js';

const tenant: TenantConfig = { id: 't', providers: [], redirectUris: [], corsOrigins: [], apiKeyHashes: [], sessionPolicy: DEFAULT_SESSION_POLICY };
const now = 1_800_000_000_000;
let store: AuthStore;
let sessions: SessionService;
const events = { graceReplay: vi.fn(), reuseDetected: vi.fn() };

beforeEach(async () => {
  store = await openSqliteStore(':memory:');
  const jwk = { ...(generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' }) as JWK), kid: 'k1' };
  const keys = keyMaterialFrom({ encryption_key: randomBytes(32).toString('base64url'), signing_jwk: jwk as JWK & { kid: string } }, 'test');
  sessions = new SessionService(
    store,
    new TenantRegistry([tenant]),
    {} as ProviderClients,
    new AccessTokens(keys, 'https://auth.example', 'api'),
    new Sealer(keys.encryptionKey),
    { now: () => now },
    () => 'https://auth.example/cb',
    events,
  );
  await store.upsertUser({ id: 'usr_1', tenant_id: 't', issuer: 'https://idp', subject: 's', email: null, email_verified: 0, name: null, picture: null, created_at: now, updated_at: now });
  await store.insertSession({ id: 'ses_1', tenant_id: 't', user_id: 'usr_1', provider_id: 'p', created_at: now, last_refreshed_at: now, expires_at: now + 3_600_000, idle_expires_at: now + 3_600_000, revoked_at: null, revoked_reason: null });
  await store.insertRefreshToken({ id: 'rtk_1', tenant_id: 't', session_id: 'ses_1', token_hash: sha256Hex('rt_first'), created_at: now, retired_at: null, replaced_by: null, grace_grant: null, grace_expires_at: null });
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
    expect((await store.findSession('t', 'ses_1'))?.revoked_at).toBeNull();
    expect((await store.findRefreshToken('t', 'rtk_1'))?.retired_at).toBeNull();
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
    expect(second.grant.access_token).toBe(first!.grant.access_token);
    expect((await store.countRows()).refresh_tokens).toBe(2);
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
    expect((await store.countRows()).refresh_tokens).toBe(1);
    expect((await store.findRefreshToken('t', 'rtk_1'))?.retired_at).toBeNull();
  });

  test('When the session is revoked for reuse while the refresh runs, then the answer says so', async () => {
    const error = (await sessions
      .refresh(tenant, 'rt_first', 'body', { beforeRotate: async () => void (await store.revokeSession('t', 'ses_1', 'refresh_token_reused', now)) })
      .catch((e: unknown) => e)) as ApiProblem;
    expect(error).toMatchObject({ status: 401, code: 'refresh_token_reused' });
  });
});
