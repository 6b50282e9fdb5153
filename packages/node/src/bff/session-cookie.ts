import { randomBytes } from 'node:crypto';

/**
 * The browser's only part in a BFF session: an opaque, random key into the
 * server-side store, in an HttpOnly, SameSite=Lax cookie for the app's own
 * domain. Secure, with the `__Host-` prefix (RFC 6265bis §4.1.3.2: no
 * `Domain`, `Path=/`, so no subdomain can plant or widen it), everywhere
 * but on a `localhost` app served over plain HTTP.
 */
export interface CookieNames {
  session: string;
  login: string;
}

export function cookieNames(secure: boolean): CookieNames {
  const prefix = secure ? '__Host-' : '';
  return { session: `${prefix}aimable_session`, login: `${prefix}aimable_login` };
}

/** A new key: 256 random bits, so it can neither be guessed nor enumerated. */
export function newOpaqueKey(): string {
  return randomBytes(32).toString('base64url');
}

const KEY_SHAPE = /^[A-Za-z0-9_-]{43}$/;

/** The value of the cookie `name` in a `Cookie` header, if it is a key this BFF could have made. */
export function readKeyCookie(cookieHeader: string | null, name: string): string | undefined {
  if (!cookieHeader) return undefined;
  for (const pair of cookieHeader.split(';')) {
    const at = pair.indexOf('=');
    if (at === -1 || pair.slice(0, at).trim() !== name) continue;
    const value = pair.slice(at + 1).trim();
    if (KEY_SHAPE.test(value)) return value;
  }
  return undefined;
}

/** A `Set-Cookie` value for the key; `maxAgeSeconds` 0 clears it. */
export function keyCookie(name: string, value: string, options: { secure: boolean; maxAgeSeconds: number }): string {
  const attributes = [`${name}=${value}`, 'Path=/', `Max-Age=${Math.max(0, Math.floor(options.maxAgeSeconds))}`, 'HttpOnly', 'SameSite=Lax'];
  if (options.secure) attributes.push('Secure');
  return attributes.join('; ');
}
