import { errors, importJWK, type JSONWebKeySet, type JWK, type JWSHeaderParameters } from 'jose';
import { AccessTokenError } from './errors.js';

export interface JwksCacheOptions {
  uri: URL;
  /** Milliseconds since the epoch. */
  clock: () => number;
  fetch: typeof fetch;
  /** The least time between two fetches, whatever their outcome; also the least time a fetched set is kept. */
  cooldownMs: number;
  /** How long a set is kept when its response has no `Cache-Control: max-age`. */
  defaultMaxAgeMs: number;
  /** The longest a fetched set is trusted, whatever its response says, and however long later fetches fail. */
  maxAgeMs: number;
  timeoutMs: number;
}

/** The issuer's key set as jose reads it: the key for a token's header. */
export type KeyForHeader = (header: JWSHeaderParameters) => Promise<CryptoKey>;

interface CachedSet {
  keys: ReadonlyMap<string, CryptoKey>;
  fetchedAt: number;
  expiresAt: number;
}

/** The most a JWKS response may weigh: the server's holds a few keys of a few hundred bytes. */
export const MAX_JWKS_BYTES = 64 * 1024;
/** The most keys of a set that are imported and used. */
export const MAX_JWKS_KEYS = 20;
/** RFC 9111 §1.2.2: a delta-seconds larger than this is taken as this. */
const MAX_DELTA_SECONDS = 2 ** 31;

/**
 * The issuer's JWKS, cached for as long as its `Cache-Control` allows (the
 * server sends `max-age=300`), but never less than the cooldown nor more
 * than the maximum age. A key the issuer has retired leaves the set it
 * publishes, so it is refused from the first fetch after it left, at most
 * the maximum age later. Fetches, successful or not, are at least the
 * cooldown apart: neither tokens with made-up `kid`s nor an issuer that is
 * down turn the verifier into a load generator against the issuer. While
 * fetches fail, the last set fetched is still used, until its maximum age.
 */
export function createJwksCache(options: JwksCacheOptions): KeyForHeader {
  let cached: CachedSet | undefined;
  let lastAttemptAt: number | undefined;
  let lastFailure: Error | undefined;
  let fetching: Promise<CachedSet> | undefined;

  const usable = (set: CachedSet | undefined, now: number): set is CachedSet => set !== undefined && now < set.fetchedAt + options.maxAgeMs;

  // Concurrent verifications that need the set share one request; undefined when the cooldown forbids a new one.
  const refetch = (): Promise<CachedSet> | undefined => {
    if (fetching) return fetching;
    const now = options.clock();
    if (lastAttemptAt !== undefined && now - lastAttemptAt < options.cooldownMs) return undefined;
    lastAttemptAt = now;
    fetching = fetchSet(options).then(
      (set) => {
        cached = set;
        lastFailure = undefined;
        fetching = undefined;
        return set;
      },
      (error: unknown) => {
        lastFailure = asUnavailable(error, options.uri);
        fetching = undefined;
        throw lastFailure;
      },
    );
    return fetching;
  };

  /** The freshest set there is: fetched again once expired, or the stale one while fetches fail or wait out the cooldown. */
  const currentSet = async (): Promise<CachedSet> => {
    if (cached !== undefined && options.clock() < cached.expiresAt) return cached;
    const pending = refetch();
    if (pending) {
      try {
        return await pending;
      } catch (error) {
        if (usable(cached, options.clock())) return cached;
        throw error;
      }
    }
    if (usable(cached, options.clock())) return cached;
    throw lastFailure ?? new AccessTokenError('jwks_unavailable', `the JWKS at ${options.uri.href} could not be fetched`);
  };

  return async (header) => {
    // A header without `kid` would match whichever key fits its `alg`: the server names the key of every token it signs.
    if (typeof header.kid !== 'string' || header.kid === '') throw new AccessTokenError('invalid_token', 'the token header has no kid');
    const kid = header.kid;
    try {
      const set = await currentSet();
      const key = set.keys.get(kid);
      if (key) return key;
      // A kid not in the set: a rotation activated at once, or a made-up one. Without a new set (cooldown, or the issuer down), the key is not published as far as known.
      const refreshed = await refetch()?.catch(() => undefined);
      const rotated = refreshed?.keys.get(kid);
      if (rotated) return rotated;
      throw new AccessTokenError('unknown_key', `the issuer does not publish the key ${quoted(kid)} (unknown, or retired)`);
    } catch (error) {
      throw asUnavailable(error, options.uri);
    }
  };
}

/** A token's value in a log message: quoted, escaped, and short. */
export function quoted(value: string): string {
  return JSON.stringify(value.length > 64 ? `${value.slice(0, 64)}…` : value);
}

/** Anything from reading the keys that is neither the verifier's refusal nor jose's is the keys' fault, never the token's. */
function asUnavailable(error: unknown, uri: URL): AccessTokenError | errors.JOSEError {
  if (error instanceof AccessTokenError || error instanceof errors.JOSEError) return error;
  return new AccessTokenError('jwks_unavailable', `the JWKS at ${uri.href} could not be read`, { cause: error });
}

async function fetchSet(options: JwksCacheOptions): Promise<CachedSet> {
  const fetchedAt = options.clock();
  let response: Response;
  let body: unknown;
  try {
    response = await options.fetch(options.uri, { headers: { Accept: 'application/json' }, signal: AbortSignal.timeout(options.timeoutMs), redirect: 'error' });
    if (!response.ok) throw new Error(`${options.uri.href} answered ${response.status}`);
    body = JSON.parse(await boundedText(response, MAX_JWKS_BYTES));
  } catch (error) {
    throw new AccessTokenError('jwks_unavailable', `the JWKS at ${options.uri.href} could not be fetched`, { cause: error });
  }
  const keys = (body as Partial<JSONWebKeySet> | null)?.keys;
  if (!Array.isArray(keys)) throw new AccessTokenError('jwks_unavailable', `the JWKS at ${options.uri.href} is not a JSON Web Key Set`);
  const freshness = Math.min(Math.max(freshnessMs(response.headers, options.defaultMaxAgeMs), options.cooldownMs), options.maxAgeMs);
  return { keys: await importedKeys(keys), fetchedAt, expiresAt: fetchedAt + freshness };
}

/** The body as text; refused when it says, or turns out, to weigh more than `maxBytes`. */
async function boundedText(response: Response, maxBytes: number): Promise<string> {
  const declared = Number(response.headers.get('content-length') ?? 0);
  if (declared > maxBytes) throw new Error(`the response declares ${declared} bytes, more than ${maxBytes}`);
  if (response.body === null) return '';
  const reader = response.body.getReader();
  // Edge runtimes have no Buffer.
  const decoder = new TextDecoder();
  let text = '';
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw new Error(`the response weighs more than ${maxBytes} bytes`);
    }
    text += decoder.decode(value, { stream: true });
  }
  return text + decoder.decode();
}

/**
 * The set's Ed25519 signing keys, by `kid`, imported once per fetch. Any
 * other key is not one the server signs with, and a key that does not
 * import is as good as absent: neither may turn a token's verification
 * into an error of the API.
 */
async function importedKeys(jwks: unknown[]): Promise<Map<string, CryptoKey>> {
  const keys = new Map<string, CryptoKey>();
  const candidates = jwks.filter(isEd25519SigningKey).slice(0, MAX_JWKS_KEYS);
  for (const jwk of candidates) {
    if (keys.has(jwk.kid)) continue;
    try {
      const key = await importJWK(jwk, 'EdDSA');
      if (key instanceof CryptoKey) keys.set(jwk.kid, key);
    } catch {
      // Absent, as said above.
    }
  }
  return keys;
}

function isEd25519SigningKey(jwk: unknown): jwk is JWK & { kid: string } {
  if (typeof jwk !== 'object' || jwk === null) return false;
  const { kty, crv, alg, use, kid, d } = jwk as JWK;
  return (
    kty === 'OKP' && crv === 'Ed25519' && (alg === undefined || alg === 'EdDSA') && (use === undefined || use === 'sig') && typeof kid === 'string' && kid !== '' && d === undefined
  );
}

/**
 * How long a response stays fresh (RFC 9111 §4.2.1): its `max-age` less the
 * `Age` a shared cache on the way reports; none for `no-store` or
 * `no-cache`. A negative or malformed `Age` is ignored (§5.1), and numbers
 * past 2^31 are taken as 2^31 (§1.2.2).
 */
export function freshnessMs(headers: Headers, defaultMaxAgeMs: number): number {
  const directives = (headers.get('cache-control') ?? '').toLowerCase().split(',').map((directive) => directive.trim());
  if (directives.includes('no-store') || directives.includes('no-cache')) return 0;
  const maxAge = directives.map((directive) => /^max-age="?(\d+)"?$/.exec(directive)?.[1]).find((seconds) => seconds !== undefined);
  if (maxAge === undefined) return defaultMaxAgeMs;
  const ageHeader = headers.get('age')?.trim() ?? '';
  const age = /^\d+$/.test(ageHeader) ? deltaSeconds(ageHeader) : 0;
  return Math.max(0, deltaSeconds(maxAge) - age) * 1000;
}

function deltaSeconds(digits: string): number {
  return Math.min(Number(digits), MAX_DELTA_SECONDS);
}
