import { serialize } from 'cookie';
import type { api } from '@aimable/auth-server-kit';
import type { IssuedGrant } from '../sessions/session-service.js';

/** The refresh cookie. `__Host-` pins it to this origin: Secure, Path=/, no Domain. */
export const REFRESH_COOKIE = '__Host-aimable_refresh';

export type RefreshTokenDelivery = 'cookie' | 'body';

export interface GrantResponse<S extends number> {
  status: S;
  body: api.SessionGrant;
  headers: { 'Cache-Control': 'no-store'; 'Set-Cookie'?: string };
}

/**
 * A grant as an HTTP response: the refresh token goes in an HttpOnly cookie
 * for browsers, or in the body for clients that sent theirs in the body,
 * never both.
 */
export function grantResponse<S extends number>(status: S, issued: IssuedGrant, delivery: RefreshTokenDelivery): GrantResponse<S> {
  if (delivery === 'body') {
    return { status, body: { ...issued.grant, refresh_token: issued.refreshToken }, headers: { 'Cache-Control': 'no-store' } };
  }
  return {
    status,
    body: issued.grant,
    headers: {
      'Cache-Control': 'no-store',
      'Set-Cookie': serialize(REFRESH_COOKIE, issued.refreshToken, {
        path: '/',
        maxAge: issued.refreshTokenMaxAge,
        httpOnly: true,
        secure: true,
        sameSite: issued.sameSite.toLowerCase() as 'strict' | 'lax' | 'none',
      }),
    },
  };
}

/** Expires the refresh cookie. */
export function clearedRefreshCookie(): string {
  return serialize(REFRESH_COOKIE, '', { path: '/', expires: new Date(0), httpOnly: true, secure: true, sameSite: 'strict' });
}
