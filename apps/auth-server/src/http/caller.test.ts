import type { Request } from 'express';
import { describe, expect, test, vi } from 'vitest';
import type { SessionService } from '../sessions/session-service.js';
import { TenantRegistry } from '../tenants/tenant-registry.js';
import type { AccessTokens } from '../tokens/access-tokens.js';
import { Callers } from './caller.js';
import { sha256Hex } from '../ids.js';
import { tenantConfig } from '../../test/support/tenants.js';

const alpha = tenantConfig({
  id: 'alpha',
  redirectUris: ['https://alpha.example/cb'],
  corsOrigins: ['https://alpha.example'],
  apiKeyHashes: [{ id: 'k', sha256: sha256Hex('ak_alpha'), scopes: ['refresh'] }],
});

function fakeRequest(headers: Record<string, string>): Request {
  const lower = Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]));
  return { get: (name: string) => lower[name.toLowerCase()], query: {} } as unknown as Request;
}

describe('the caller of a request', () => {
  test('When CORS, the origin check and the security step all ask, then each credential is resolved once', async () => {
    const tenants = new TenantRegistry([alpha]);
    const keyLookups = vi.spyOn(tenants, 'findApiKey');
    const verify = vi.fn(async () => ({ userId: 'usr_1', sessionId: 'ses_1', tenantId: 'alpha' }));
    const authenticate = vi.fn(async () => ({ tenant: alpha }) as never);
    const callers = new Callers({
      tenants,
      accessTokens: { verify } as unknown as AccessTokens,
      sessions: { authenticate } as unknown as SessionService,
      clock: { now: () => Date.now() },
    });
    const req = fakeRequest({ 'X-API-Key': 'ak_alpha', Authorization: 'Bearer a.b.c', Origin: 'https://alpha.example' });
    expect(callers.of(req)).toBe(callers.of(req));
    await callers.of(req).tenantsSpokenFor();
    await callers.of(req).tenantsSpokenFor();
    expect(callers.of(req).apiKeyTenant()).toBe(alpha);
    await callers.of(req).requireSession();
    await callers.of(req).requireSession();
    expect(keyLookups).toHaveBeenCalledTimes(1);
    expect(verify).toHaveBeenCalledTimes(1);
    expect(authenticate).toHaveBeenCalledTimes(1);
    expect(callers.of(fakeRequest({}))).not.toBe(callers.of(req));
  });

  test('When the bearer header is not exactly "Bearer <token>", then there is no token', async () => {
    const verify = vi.fn(async () => undefined);
    const callers = new Callers({ tenants: new TenantRegistry([alpha]), accessTokens: { verify } as unknown as AccessTokens, sessions: {} as SessionService, clock: { now: () => 0 } });
    for (const authorization of ['XBearer a.b.c', 'Bearer a.b.c extra', 'Bearer', 'Basic a.b.c']) {
      expect(await callers.of(fakeRequest({ Authorization: authorization })).bearerClaims()).toBeUndefined();
    }
    expect(verify).not.toHaveBeenCalled();
    await callers.of(fakeRequest({ Authorization: 'bearer a.b.c' })).bearerClaims();
    expect(verify).toHaveBeenCalledWith('a.b.c', 0);
  });
});
