/**
 * The verifier across the server's key operations, as an operator runs
 * them (`aimable-auth rotate-keys`), with no restart of the verifier: the
 * JWKS it caches for its max-age (300 s), a rotation, a retirement.
 */
import { decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { AccessTokenError, createVerifier, type Verifier } from '../src/index.js';
import { AUDIENCE, startAuthServer, type AuthServer } from './support/auth-server.js';

let auth: AuthServer;
let now = Date.now();
let fetches = 0;
/** One verifier, for the whole file, as an API process holds one. */
let verifier: Verifier;

beforeAll(async () => {
  auth = await startAuthServer();
  verifier = createVerifier({ issuer: auth.url, audience: AUDIENCE, clock: () => now, fetch: (input, init) => (fetches++, fetch(input, init)) });
}, 60_000);

afterAll(async () => {
  await auth?.close();
});

const refusalCode = (promise: Promise<unknown>) => promise.then(() => 'accepted', (error: unknown) => (error instanceof AccessTokenError ? error.code : String(error)));

test('When tokens are verified within the JWKS max-age, then it is fetched once; after it, again', async () => {
  const token = await auth.signIn();
  await verifier.verify(token);
  await Promise.all([verifier.verify(token), verifier.verify(token), verifier.verify(token)]);
  expect(fetches).toBe(1);
  now += 299_000;
  await verifier.verify(token);
  expect(fetches).toBe(1);
  now += 2_000;
  await verifier.verify(token);
  expect(fetches).toBe(2);
});

test('When the signing key is rotated at once, then its tokens are accepted from the cooldown on, and the old key\'s still are; when the old key is retired, then its tokens are refused from the next fetch of the JWKS', async () => {
  const before = await auth.signIn();
  const oldKid = decodeProtectedHeader(before).kid!;
  expect((await verifier.verify(before)).tenant).toBe('alpha');

  // `aimable-auth rotate-keys --kind signing --activate-in 0`, as after a leak.
  const newKid = await auth.rotateSigningKey();
  const after = await auth.signIn();
  expect(decodeProtectedHeader(after).kid).toBe(newKid);
  expect(await auth.publishedKids()).toEqual([oldKid, newKid]);

  // The set was fetched a moment ago: an unknown kid does not fetch it again before the cooldown.
  now += 1_000;
  const fetchesBefore = fetches;
  expect(await refusalCode(verifier.verify(after))).toBe('unknown_key');
  expect(fetches).toBe(fetchesBefore);
  now += 30_000;
  expect((await verifier.verify(after)).tenant).toBe('alpha');
  expect(fetches).toBe(fetchesBefore + 1);
  expect((await verifier.verify(before)).tenant).toBe('alpha');

  // `aimable-auth rotate-keys --retire <old kid>`: it leaves the JWKS.
  await auth.retireSigningKey(oldKid);
  expect(await auth.publishedKids()).toEqual([newKid]);
  // Until the cached set expires, the verifier has no way to know.
  expect((await verifier.verify(before)).tenant).toBe('alpha');
  now += 300_000;
  expect(await refusalCode(verifier.verify(before))).toBe('unknown_key');
  expect((await verifier.verify(after)).tenant).toBe('alpha');
  // Refused on every later call, with no fetch per refusal within the cooldown.
  const settled = fetches;
  for (let i = 0; i < 5; i++) expect(await refusalCode(verifier.verify(before))).toBe('unknown_key');
  expect(fetches).toBe(settled);
});
