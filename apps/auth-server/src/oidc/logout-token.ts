import { jwtVerify, type JWTPayload } from 'jose';
import { invalidLogoutToken, providerUnavailable } from '../problems.js';
import type { ProviderConfig } from '../tenants/tenant.js';
import { idTokenAlgorithms, KEY_SET_UNAVAILABLE, type DiscoveredProvider } from './provider-client.js';

/** Back-Channel Logout 1.0 §2.4: the event a logout token carries. */
const BACKCHANNEL_LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

/** Clock skew allowed between the provider and this server. */
const CLOCK_SKEW_SECONDS = 60;

/**
 * How old a logout token may be. Providers send one the moment the user
 * signs out; a bound on its age bounds how long its `jti` must be kept to
 * refuse a replay, whether or not it carries `exp`.
 */
export const LOGOUT_TOKEN_MAX_AGE_SECONDS = 10 * 60;

/** What a valid logout token names, and until when its `jti` must be kept. */
export interface LogoutClaims {
  issuer: string;
  jti: string;
  sid?: string;
  subject?: string;
  /** Epoch milliseconds after which the token would be refused anyway (by `iat` or `exp`). */
  acceptableUntil: number;
}

/**
 * Validates a logout token as Back-Channel Logout 1.0 §2.6 requires. Every
 * refusal is 400 `invalid_logout_token`, its reason for the log only; a key
 * set that cannot be fetched is the provider's fault (502).
 */
export async function verifyLogoutToken(discovered: DiscoveredProvider, provider: ProviderConfig, issuer: string, token: string, now: number): Promise<LogoutClaims> {
  // A provider without ID tokens (GitHub) has no keys to sign logout tokens with, and so sends none.
  const keys = discovered.postedTokenKeys;
  if (!keys) throw invalidLogoutToken('the provider issues no signed tokens');
  let payload: JWTPayload;
  try {
    // §2.6 steps 2–4: signed with the provider's keys and one of its ID token algorithms; `iss` the provider,
    // `aud` this client; `exp` not past (when present); `iat` present, not in the future, not older than the bound.
    ({ payload } = await jwtVerify(token, keys, {
      algorithms: idTokenAlgorithms(discovered),
      issuer,
      audience: provider.clientId,
      requiredClaims: ['iat'],
      currentDate: new Date(now),
      clockTolerance: CLOCK_SKEW_SECONDS,
      maxTokenAge: LOGOUT_TOKEN_MAX_AGE_SECONDS,
    }));
  } catch (error) {
    const code = (error as { code?: string }).code ?? '';
    if (error instanceof TypeError || KEY_SET_UNAVAILABLE.has(code)) throw providerUnavailable(error);
    throw invalidLogoutToken(`the logout token did not verify (${code || 'unreadable'})`, error);
  }
  const iat = payload.iat!;
  // §2.6 step 5: the back-channel logout event, as a JSON object.
  const event: unknown = (payload.events as Record<string, unknown> | undefined)?.[BACKCHANNEL_LOGOUT_EVENT];
  if (typeof payload.events !== 'object' || payload.events === null || typeof event !== 'object' || event === null || Array.isArray(event)) {
    throw invalidLogoutToken('the logout token has no back-channel logout event');
  }
  // §2.6 step 7: a logout token MUST NOT carry a nonce, so that an ID token cannot pass for one.
  if (payload.nonce !== undefined) throw invalidLogoutToken('the logout token carries a nonce');
  // §2.6 step 6: a `sid`, a `sub`, or both.
  const sid = nonEmpty(payload.sid);
  const subject = nonEmpty(payload.sub);
  if ((payload.sid !== undefined && sid === undefined) || (payload.sub !== undefined && subject === undefined)) throw invalidLogoutToken('the logout token has a malformed sid or sub');
  if (sid === undefined && subject === undefined) throw invalidLogoutToken('the logout token has neither sid nor sub');
  // §2.6 step 8: a `jti`, so that a replay can be refused.
  const jti = nonEmpty(payload.jti);
  if (jti === undefined || jti.length > 255) throw invalidLogoutToken('the logout token has no usable jti');
  const refusedAfter = Math.min(iat + LOGOUT_TOKEN_MAX_AGE_SECONDS, typeof payload.exp === 'number' ? payload.exp : Number.POSITIVE_INFINITY);
  return {
    issuer,
    jti,
    ...(sid === undefined ? {} : { sid }),
    ...(subject === undefined ? {} : { subject }),
    // A second more than jose accepts (it compares whole seconds), and whole milliseconds: a fractional `iat`
    // or `exp` must not reach the database's integer column, nor free the jti while the token still verifies.
    acceptableUntil: Math.ceil((refusedAfter + CLOCK_SKEW_SECONDS + 1) * 1000),
  };
}

function nonEmpty(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}
