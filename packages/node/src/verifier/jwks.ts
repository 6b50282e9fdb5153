import { createLocalJWKSet, errors, type JSONWebKeySet, type JWSHeaderParameters } from 'jose';
import { AccessTokenError } from './errors.js';

export interface JwksCacheOptions {
  uri: URL;
  /** Milliseconds since the epoch. */
  clock: () => number;
  fetch: typeof fetch;
  /** After a fetch, the least time before a `kid` not in the set fetches it again. */
  cooldownMs: number;
  /** How long a set is kept when its response has no `Cache-Control: max-age`. */
  defaultMaxAgeMs: number;
  timeoutMs: number;
}

/** The issuer's key set as jose reads it: the key for a token's header. */
export type KeyForHeader = (header: JWSHeaderParameters) => Promise<CryptoKey>;

interface CachedSet {
  keyFor: ReturnType<typeof createLocalJWKSet>;
  fetchedAt: number;
  expiresAt: number;
}

/**
 * The issuer's JWKS, cached for as long as its `Cache-Control` allows (the
 * server sends `max-age=300`). A key the issuer has retired leaves the set
 * it publishes, so it is refused from the first fetch after it left. A
 * token signed with a key not in the cached set (a rotation activated at
 * once) fetches the set again, but not sooner than the cooldown after the
 * last fetch: a stream of tokens with made-up `kid`s cannot turn the
 * verifier into a load generator against the issuer.
 */
export function createJwksCache(options: JwksCacheOptions): KeyForHeader {
  let cached: CachedSet | undefined;
  let fetching: Promise<CachedSet> | undefined;

  // Concurrent verifications that need the set share one request.
  const refetch = (): Promise<CachedSet> => {
    fetching ??= fetchSet(options).then(
      (set) => {
        cached = set;
        fetching = undefined;
        return set;
      },
      (error: unknown) => {
        fetching = undefined;
        throw error;
      },
    );
    return fetching;
  };

  return async (header) => {
    // A header without `kid` would match whichever key fits its `alg`: the server names the key of every token it signs.
    if (typeof header.kid !== 'string' || header.kid === '') throw new AccessTokenError('invalid_token', 'the token header has no kid');
    const set = cached !== undefined && options.clock() < cached.expiresAt ? cached : await refetch();
    try {
      return await set.keyFor(header);
    } catch (error) {
      if (!(error instanceof errors.JWKSNoMatchingKey)) throw error;
      if (options.clock() - set.fetchedAt < options.cooldownMs) throw unknownKey(header.kid, error);
      try {
        return await (await refetch()).keyFor(header);
      } catch (retried) {
        throw retried instanceof errors.JWKSNoMatchingKey ? unknownKey(header.kid, retried) : retried;
      }
    }
  };
}

function unknownKey(kid: string, cause: unknown): AccessTokenError {
  return new AccessTokenError('unknown_key', `the issuer does not publish the key ${kid} (unknown, or retired)`, { cause });
}

async function fetchSet(options: JwksCacheOptions): Promise<CachedSet> {
  const fetchedAt = options.clock();
  let response: Response;
  let body: unknown;
  try {
    response = await options.fetch(options.uri, { headers: { Accept: 'application/json' }, signal: AbortSignal.timeout(options.timeoutMs), redirect: 'error' });
    if (!response.ok) throw new Error(`${options.uri.href} answered ${response.status}`);
    body = await response.json();
  } catch (error) {
    throw new AccessTokenError('jwks_unavailable', `the JWKS at ${options.uri.href} could not be fetched`, { cause: error });
  }
  let keyFor: CachedSet['keyFor'];
  try {
    keyFor = createLocalJWKSet(body as JSONWebKeySet);
  } catch (error) {
    throw new AccessTokenError('jwks_unavailable', `the JWKS at ${options.uri.href} is not a JSON Web Key Set`, { cause: error });
  }
  return { keyFor, fetchedAt, expiresAt: fetchedAt + freshnessMs(response.headers, options.defaultMaxAgeMs) };
}

/**
 * How long a response stays fresh (RFC 9111 §4.2.1): its `max-age` less the
 * `Age` a shared cache on the way reports; none for `no-store` or
 * `no-cache`.
 */
export function freshnessMs(headers: Headers, defaultMaxAgeMs: number): number {
  const directives = (headers.get('cache-control') ?? '').toLowerCase().split(',').map((directive) => directive.trim());
  if (directives.includes('no-store') || directives.includes('no-cache')) return 0;
  const maxAge = directives.map((directive) => /^max-age="?(\d+)"?$/.exec(directive)?.[1]).find((seconds) => seconds !== undefined);
  if (maxAge === undefined) return defaultMaxAgeMs;
  const age = Number(headers.get('age') ?? 0);
  return Math.max(0, Number(maxAge) - (Number.isFinite(age) ? age : 0)) * 1000;
}
