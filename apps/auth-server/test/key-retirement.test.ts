/**
 * A signing key that leaked, over HTTP: what its holder can sign, and what
 * is left of it after an emergency rotation and its retirement, on the
 * instance that retires it and on another instance sharing the database.
 */
import { randomUUID } from 'node:crypto';
import { freePort } from '@aimable/testing';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startServer, type RunningServer } from '../src/server.js';
import { systemClock } from '../src/clock.js';
import { KeyRetirementRefused, rotateKeys, type SigningKey } from '../src/tokens/key-ring.js';
import { signedAccessToken } from './support/access-tokens.js';
import { refresh, signIn, startHarness, testServerConfig, type Harness } from './support/harness.js';
import { twoTenants } from './support/tenants.js';

/** Tenant alpha's access-token lifetime: the default session policy's. */
const LIFETIME_SECONDS = 15 * 60;
const YEAR_SECONDS = 365 * 24 * 3600;

let h: Harness;
/** Another instance on the same database, as behind a load balancer; it reads the keys again only when told (its refresh is an hour). */
let other: RunningServer;

beforeAll(async () => {
  h = await startHarness();
  other = await startServer({
    config: testServerConfig(await freePort(), h.dataDir, twoTenants(h.idp!.issuer), { keyRefreshSeconds: 3600, publicUrl: h.config.publicUrl }),
    logDestination: { write: () => {} },
  });
}, 60_000);

afterAll(async () => {
  await other?.close();
  await h?.close();
});

/** An access token as whoever holds `key` can sign it: the server's claims for the session, with the `iat` and `exp` (seconds) chosen. */
function forge(key: SigningKey, claims: { sub: string; sid: string }, times: { iat: number; exp: number }): string {
  return signedAccessToken(key, { ...claims, tenant: 'alpha', iss: h.config.publicUrl, aud: h.config.accessTokenAudience, ...times, jti: randomUUID() });
}

async function sessionStatus(url: string, token: string): Promise<number> {
  return (await fetch(`${url}/v1/auth/session`, { headers: { Authorization: `Bearer ${token}` } })).status;
}

async function publishedKids(url: string): Promise<string[]> {
  const jwks = (await (await fetch(`${url}/.well-known/jwks.json`)).json()) as { keys: { kid: string }[] };
  return jwks.keys.map((key) => key.kid);
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

describe('a leaked signing key', () => {
  test('When a token forged with a valid key lives longer than its tenant\'s access-token lifetime, then it is refused with 401, though its signature is valid', async () => {
    const grant = await signIn(h);
    const claims = { sub: grant.user.id, sid: grant.session.id };
    const key = h.server.keys.signingKey();
    const iat = nowSeconds();
    expect(await sessionStatus(h.url, forge(key, claims, { iat, exp: iat + LIFETIME_SECONDS }))).toBe(200);
    expect(await sessionStatus(h.url, forge(key, claims, { iat, exp: iat + YEAR_SECONDS }))).toBe(401);
    expect(await sessionStatus(h.url, forge(key, claims, { iat, exp: iat + LIFETIME_SECONDS + 61 }))).toBe(401);
    // An iat moved ahead, to make room for an exp a year away.
    expect(await sessionStatus(h.url, forge(key, claims, { iat: iat + YEAR_SECONDS - LIFETIME_SECONDS, exp: iat + YEAR_SECONDS }))).toBe(401);
  });

  test('When the key that signs now, or an unknown one, is to be retired, then the instance refuses, and the key stays in use', async () => {
    const key = h.server.keys.signingKey();
    await expect(h.server.keys.retire(key.kid)).rejects.toThrow(KeyRetirementRefused);
    await expect(h.server.keys.retire(key.kid)).rejects.toThrow('run `pnpm rotate-keys --kind signing --activate-in 0` first');
    await expect(h.server.keys.retire('ed25519-000000000000')).rejects.toThrow('There is no key ed25519-000000000000');
    expect(h.server.keys.signingKey().kid).toBe(key.kid);
    expect(await publishedKids(h.url)).toContain(key.kid);
  });

  test('When it is retired after an emergency rotation, then its tokens are refused at once on the instance that retired it, and on another from its next read of the keys', async () => {
    const grant = await signIn(h);
    const claims = { sub: grant.user.id, sid: grant.session.id };
    const leaked = h.server.keys.signingKey();
    expect(decodeProtectedHeader(grant.access_token).kid).toBe(leaked.kid);
    const iat = nowSeconds();
    // The longest a forged token may live now: its tenant's lifetime.
    const forged = forge(leaked, claims, { iat, exp: iat + LIFETIME_SECONDS });
    expect(await sessionStatus(h.url, forged)).toBe(200);
    expect(await sessionStatus(other.url, forged)).toBe(200);

    // `pnpm rotate-keys --kind signing --activate-in 0`: a new key signs at once, and the leaked one stays published for the overlap.
    await rotateKeys(h.server.store, systemClock, { kinds: ['signing'], activateInMs: 0 });
    await Promise.all([h.server.keys.reload(), other.keys.reload()]);
    const successor = h.server.keys.signingKey().kid;
    expect(successor).not.toBe(leaked.kid);
    expect(await publishedKids(h.url)).toEqual([leaked.kid, successor]);
    expect(await sessionStatus(h.url, forged)).toBe(200);

    // `pnpm rotate-keys --retire <kid>`, here on this instance.
    await h.server.keys.retire(leaked.kid);
    expect(await sessionStatus(h.url, forged)).toBe(401);
    expect(await sessionStatus(h.url, forge(leaked, claims, { iat, exp: iat + LIFETIME_SECONDS }))).toBe(401);
    expect(await sessionStatus(h.url, grant.access_token)).toBe(401);
    expect(await publishedKids(h.url)).toEqual([successor]);

    // The other instance trusts the key until it reads the keys again (every AUTH_KEY_REFRESH_SECONDS), then no more.
    expect(await sessionStatus(other.url, forged)).toBe(200);
    await other.keys.reload();
    expect(await sessionStatus(other.url, forged)).toBe(401);
    expect(await publishedKids(other.url)).toEqual([successor]);

    // The session lives on: a refresh gives a token signed with the new key, accepted everywhere.
    const refreshed = await refresh(h, grant.refresh_token);
    expect(refreshed.status).toBe(200);
    const { access_token: accessToken } = (await refreshed.json()) as { access_token: string };
    expect(decodeProtectedHeader(accessToken).kid).toBe(successor);
    expect(decodeJwt(accessToken).sid).toBe(grant.session.id);
    expect(await sessionStatus(h.url, accessToken)).toBe(200);
    expect(await sessionStatus(other.url, accessToken)).toBe(200);
  });
});
