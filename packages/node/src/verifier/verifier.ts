import { errors, jwtVerify } from 'jose';
import { accessTokenClaimsOf, REQUIRED_CLAIMS, type AccessTokenClaims } from './claims.js';
import { AccessTokenError } from './errors.js';
import { createJwksCache, quoted, type KeyForHeader } from './jwks.js';

export interface VerifierOptions {
  /** The auth server's public URL (`AUTH_PUBLIC_URL`), exactly as its tokens' `iss`: `http://localhost:8080`. */
  issuer: string;
  /** The API the tokens are for (`AUTH_ACCESS_TOKEN_AUDIENCE`, `aimable-api` by default). */
  audience: string;
  /** Where the signing keys are published. Default: the issuer's `/.well-known/jwks.json`. */
  jwksUri?: string;
  /** The tenant every token must be issued for; `verify` and `requireAuth` may name one per call instead. When the key is present, a non-empty string. */
  tenant?: string;
  /** Seconds of clock difference allowed on `exp` and `nbf`. Default 5, at most 300. */
  clockToleranceSeconds?: number;
  /**
   * The longest access-token lifetime of the tenants
   * (`session_policy.access_token_ttl_seconds`, 900 by default). When
   * given, a token whose `exp − iat` exceeds it, or whose `iat` is ahead,
   * is refused, as the server refuses it: one forged with a leaked key then
   * lives no longer than a real one. Default: no limit.
   */
  maxTokenLifetimeSeconds?: number;
  /** The least time between two fetches of the JWKS, whether the last one failed or not, and the least time a set is kept. Default 30, at least 1. */
  jwksCooldownSeconds?: number;
  /** How long the JWKS is kept when its response carries no `Cache-Control: max-age`. Default 300. */
  jwksDefaultMaxAgeSeconds?: number;
  /**
   * The longest a fetched JWKS is trusted, whatever its `Cache-Control`
   * says and however long later fetches fail: a retired key is refused at
   * most this long after it left the set. Default 600, at least the
   * cooldown.
   */
  jwksMaxAgeSeconds?: number;
  /** How long a fetch of the JWKS may take. Default 5, more than 0. */
  jwksTimeoutSeconds?: number;
  /** Fetch the JWKS over plain `http` from a host other than a loopback one (a private network). Default false. */
  allowInsecureHttp?: boolean;
  /** The `fetch` that reads the JWKS. Default: the global one. */
  fetch?: typeof fetch;
  /** Milliseconds since the epoch, for tests. Default `Date.now`. */
  clock?: () => number;
}

/** What a single verification requires beyond the verifier's options. */
export interface VerifyOptions {
  /** The tenant the token must be issued for, instead of the verifier's. When the key is present, a non-empty string. */
  tenant?: string;
}

export interface Verifier {
  /** The token's claims; throws `AccessTokenError` when it is not accepted. */
  verify(token: string, options?: VerifyOptions): Promise<AccessTokenClaims>;
  /**
   * The claims of the request's `Authorization: Bearer` token (Next.js route
   * handlers, Hono, edge functions); throws `AccessTokenError`, with
   * `missing_token` when the request carries none.
   */
  authenticate(request: Request, options?: VerifyOptions): Promise<AccessTokenClaims>;
}

/** MUST (RFC 8725 §3.1): the one algorithm the server signs with; never `none`, never a MAC keyed with the public key. */
const ALGORITHMS = ['EdDSA'];
/** RFC 9068 §2.1: the media type of JWT access tokens, in the `typ` header. */
const ACCESS_TOKEN_TYPE = 'at+jwt';

const DEFAULTS = {
  clockToleranceSeconds: 5,
  jwksCooldownSeconds: 30,
  jwksDefaultMaxAgeSeconds: 300,
  jwksMaxAgeSeconds: 600,
  jwksTimeoutSeconds: 5,
};

/** The bounds of the numeric options beyond `0 or more`: none is safe outside them. */
const LIMITS: Partial<Record<keyof typeof DEFAULTS, { check: (value: number) => boolean; says: string }>> = {
  // A wider tolerance would keep an expired token valid for minutes.
  clockToleranceSeconds: { check: (value) => value <= 300, says: 'at most 300' },
  // Without a cooldown, every refused token may fetch the JWKS.
  jwksCooldownSeconds: { check: (value) => value >= 1, says: 'at least 1' },
  jwksMaxAgeSeconds: { check: (value) => value > 0, says: 'more than 0' },
  jwksTimeoutSeconds: { check: (value) => value > 0, says: 'more than 0' },
};

/** RFC 6750 §2.1: `Bearer` and a b64token. */
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

/** A verifier of the access tokens one Aimable server issues for one API. Options are checked here, once. */
export function createVerifier(options: VerifierOptions): Verifier {
  const settings = checkedSettings(options);
  const keyFor: KeyForHeader = createJwksCache({
    uri: settings.jwksUri,
    clock: settings.clock,
    fetch: settings.fetch,
    cooldownMs: settings.jwksCooldownSeconds * 1000,
    defaultMaxAgeMs: settings.jwksDefaultMaxAgeSeconds * 1000,
    maxAgeMs: settings.jwksMaxAgeSeconds * 1000,
    timeoutMs: settings.jwksTimeoutSeconds * 1000,
  });

  async function verify(token: string, verifyOptions: VerifyOptions = {}): Promise<AccessTokenClaims> {
    // Checked first: a tenant given but unset (an unset environment variable) must not silently accept every tenant.
    if (verifyOptions !== null && typeof verifyOptions === 'object' && 'tenant' in verifyOptions && !isNonEmptyString(verifyOptions.tenant)) {
      throw new TypeError('verify: tenant, when given, must be a non-empty string');
    }
    if (typeof token !== 'string' || token === '') throw new AccessTokenError('missing_token', 'no token given');
    let claims: AccessTokenClaims;
    try {
      const { payload } = await jwtVerify(token, keyFor, {
        algorithms: ALGORITHMS,
        typ: ACCESS_TOKEN_TYPE,
        issuer: settings.issuer,
        audience: settings.audience,
        clockTolerance: settings.clockToleranceSeconds,
        currentDate: new Date(settings.clock()),
        requiredClaims: [...REQUIRED_CLAIMS],
      });
      claims = accessTokenClaimsOf(payload);
    } catch (error) {
      throw asAccessTokenError(error);
    }
    if (settings.maxTokenLifetimeSeconds !== undefined && !withinLifetime(claims, settings.maxTokenLifetimeSeconds, settings)) {
      throw new AccessTokenError('invalid_token', `the token lives longer than ${settings.maxTokenLifetimeSeconds} s, or was issued in the future`);
    }
    const tenant = verifyOptions.tenant ?? settings.tenant;
    if (tenant !== undefined && claims.tenant !== tenant) {
      throw new AccessTokenError('wrong_tenant', `the token is for the tenant ${quoted(claims.tenant)}, not ${quoted(tenant)}`);
    }
    return claims;
  }

  return {
    verify,
    async authenticate(request, verifyOptions) {
      return verify(bearerToken(request.headers.get('authorization') ?? undefined), verifyOptions);
    },
  };
}

/** The token of an `Authorization: Bearer` header; throws `missing_token` when there is none. */
export function bearerToken(authorization: string | undefined): string {
  if (authorization === undefined) throw new AccessTokenError('missing_token', 'the request has no Authorization header');
  const token = BEARER.exec(authorization)?.[1];
  if (token === undefined) throw new AccessTokenError('missing_token', 'the Authorization header is not a Bearer token');
  return token;
}

/** MUST (RFC 7519 §4.1.4, §4.1.6): no longer than the lifetime the server gives, from an `iat` that is not ahead. */
function withinLifetime(claims: AccessTokenClaims, maxSeconds: number, settings: Pick<Settings, 'clock' | 'clockToleranceSeconds'>): boolean {
  const now = settings.clock() / 1000;
  return claims.iat <= now + settings.clockToleranceSeconds && claims.exp - claims.iat <= maxSeconds + settings.clockToleranceSeconds;
}

/** One place where jose's errors become the verifier's codes; anything not jose's, nor ours, is not the token's fault. */
function asAccessTokenError(error: unknown): unknown {
  if (error instanceof AccessTokenError) return error;
  if (error instanceof errors.JWTExpired) return new AccessTokenError('expired', error.message, { cause: error });
  if (error instanceof errors.JWTClaimValidationFailed && error.claim === 'nbf') return new AccessTokenError('not_yet_valid', error.message, { cause: error });
  if (error instanceof errors.JOSEError) return new AccessTokenError('invalid_token', error.message, { cause: error });
  return error;
}

interface Settings extends Required<Omit<VerifierOptions, 'jwksUri' | 'tenant' | 'allowInsecureHttp' | 'maxTokenLifetimeSeconds'>> {
  jwksUri: URL;
  tenant: string | undefined;
  maxTokenLifetimeSeconds: number | undefined;
}

/** The options over their defaults; every problem is reported at once, by the option's name. */
function checkedSettings(options: VerifierOptions): Settings {
  const problems: string[] = [];
  const issuerUrl = absoluteUrl(options.issuer, 'issuer', problems);
  if (typeof options.audience !== 'string' || options.audience === '') problems.push('audience must be a non-empty string');
  if ('tenant' in options && !isNonEmptyString(options.tenant)) problems.push('tenant, when given, must be a non-empty string');
  let jwksUri: URL | undefined;
  if (options.jwksUri !== undefined) jwksUri = absoluteUrl(options.jwksUri, 'jwksUri', problems);
  else if (issuerUrl) jwksUri = new URL(`${options.issuer.replace(/\/+$/, '')}/.well-known/jwks.json`);
  // MUST (RFC 9068 §4: the keys are the issuer's): over plain http, anyone on the path could publish their own.
  if (jwksUri && jwksUri.protocol === 'http:' && !isLoopback(jwksUri.hostname) && options.allowInsecureHttp !== true) {
    problems.push(`jwksUri ${jwksUri.href} must be https (http is allowed for localhost, or with allowInsecureHttp)`);
  }
  const seconds = { ...DEFAULTS };
  for (const name of Object.keys(DEFAULTS) as (keyof typeof DEFAULTS)[]) {
    const value = options[name];
    if (value === undefined) continue;
    const limit = LIMITS[name];
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) problems.push(`${name} must be a number of seconds, 0 or more`);
    else if (limit && !limit.check(value)) problems.push(`${name} must be a number of seconds, ${limit.says}`);
    else seconds[name] = value;
  }
  if (seconds.jwksCooldownSeconds > seconds.jwksMaxAgeSeconds) problems.push('jwksCooldownSeconds must not exceed jwksMaxAgeSeconds');
  const lifetime = options.maxTokenLifetimeSeconds;
  if (lifetime !== undefined && (typeof lifetime !== 'number' || !Number.isFinite(lifetime) || lifetime <= 0)) problems.push('maxTokenLifetimeSeconds must be a number of seconds, more than 0');
  if (problems.length > 0) throw new TypeError(`createVerifier: ${problems.join('; ')}`);
  return {
    // The server publishes its URL without a trailing slash, and issues its tokens with it.
    issuer: options.issuer.replace(/\/+$/, ''),
    audience: options.audience,
    tenant: options.tenant,
    maxTokenLifetimeSeconds: lifetime,
    jwksUri: jwksUri!,
    ...seconds,
    fetch: options.fetch ?? ((input, init) => fetch(input, init)),
    clock: options.clock ?? Date.now,
  };
}

export function isNonEmptyString(value: unknown): value is string {
  return typeof value === 'string' && value !== '';
}

function absoluteUrl(value: unknown, name: string, problems: string[]): URL | undefined {
  if (typeof value === 'string' && /^https?:\/\//.test(value)) {
    try {
      return new URL(value);
    } catch {
      // Reported below.
    }
  }
  problems.push(`${name} must be an absolute http(s) URL`);
  return undefined;
}

function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}
