import { serialize } from 'cookie';
import type { api } from '@aimable/auth-server-kit';
import type { IssuedGrant } from '../sessions/session-service.js';
import type { SessionPolicy } from '../tenants/tenant.js';
import { toSessionGrant } from './presenters.js';

/**
 * The tenant's refresh cookie. `__Host-` pins it to this origin (Secure,
 * Path=/, no Domain); one name per tenant, so that one browser can hold
 * sessions of several tenants without one overwriting the other.
 */
export function refreshCookieName(tenantId: string): string {
  return `__Host-aimable_refresh_${tenantId}`;
}

export type RefreshTokenDelivery = 'cookie' | 'body';

export interface GrantResponse<S extends number> {
  status: S;
  body: api.SessionGrant;
  headers: { 'Cache-Control': 'no-store' } | { 'Cache-Control': 'no-store'; 'Set-Cookie': string };
}

/**
 * A grant as an HTTP response: the refresh token goes in an HttpOnly cookie
 * for browsers, or in the body for clients that sent theirs in the body,
 * never both.
 */
export function grantResponse<S extends number>(status: S, issued: IssuedGrant, delivery: RefreshTokenDelivery, tenantId: string): GrantResponse<S> {
  const grant = toSessionGrant(issued);
  if (delivery === 'body') {
    return { status, body: { ...grant, refresh_token: issued.refreshToken }, headers: { 'Cache-Control': 'no-store' } };
  }
  return {
    status,
    body: grant,
    headers: {
      'Cache-Control': 'no-store',
      'Set-Cookie': serialize(refreshCookieName(tenantId), issued.refreshToken, {
        path: '/',
        maxAge: issued.refreshTokenMaxAge,
        httpOnly: true,
        secure: true,
        sameSite: sameSiteOf(issued.sameSite),
      }),
    },
  };
}

/** Expires the tenant's refresh cookie, with the attributes it was set with (a cookie is replaced only by its like). */
export function clearedRefreshCookie(tenantId: string, sameSite: SessionPolicy['cookieSameSite']): string {
  return serialize(refreshCookieName(tenantId), '', { path: '/', expires: new Date(0), httpOnly: true, secure: true, sameSite: sameSiteOf(sameSite) });
}

function sameSiteOf(sameSite: SessionPolicy['cookieSameSite']): 'strict' | 'lax' | 'none' {
  return sameSite.toLowerCase() as 'strict' | 'lax' | 'none';
}
