import * as oidc from 'openid-client';
import type { AppleProviderConfig } from '../tenants/tenant.js';
import { appleClientSecret } from './apple-client-secret.js';
import { codeFlowAuthorizationUrl, discoverIssuer, grantCode, identityFromClaims, requireIdToken, text } from './code-grant.js';
import type { ProviderIdentity, ProviderKind } from './provider-kind.js';
import { fixedTokenEndpointAuthentication } from './client-auth.js';

/**
 * Sign in with Apple: OpenID Connect at `https://appleid.apple.com`, with
 * three quirks. The client secret is a JWT the server signs with the team's
 * key (`apple-client-secret.ts`). Whenever the name or email is asked for,
 * Apple posts the authorization response as a form (`response_mode=form_post`).
 * And the name is never in the ID token: Apple posts it once, unsigned, on
 * the user's first sign-in (`nameInAuthorizationResponse`).
 */
export const apple: ProviderKind<AppleProviderConfig> = {
  discover(provider, options) {
    return discoverIssuer(provider.issuer, provider.clientId, fixedTokenEndpointAuthentication(appleClientAuth(provider), 'client_secret_post'), { ...options, allowInsecureHttp: provider.allowInsecureHttp });
  },

  authorizationUrl({ configuration }, provider, parameters) {
    // Apple refuses a query response when `name` or `email` is in the scope.
    return codeFlowAuthorizationUrl(configuration, provider.scopes, parameters, { response_mode: 'form_post' });
  },

  async exchangeCode(discovered, _provider, exchange) {
    const tokens = await grantCode(discovered, exchange, { idTokenExpected: true });
    const { claims, idToken } = await requireIdToken(discovered, tokens);
    return appleIdentity(claims, idToken);
  },

  nameInAuthorizationResponse: nameInAppleUser,
};

/** `client_secret_post`, the method Apple documents, with a secret signed (and renewed) by the server. */
function appleClientAuth(provider: AppleProviderConfig): oidc.ClientAuth {
  const secret = appleClientSecret(provider);
  return (_as, client, body) => {
    body.set('client_id', client.client_id);
    body.set('client_secret', secret.current());
  };
}

/**
 * The identity in Apple's ID token. Apple sends `email_verified` as a
 * boolean or as the string "true"/"false": only true or "true" counts.
 * Private relay addresses (`…@privaterelay.appleid.com`, `is_private_email`)
 * are the user's addresses as far as the tenant is concerned: they forward.
 */
export function appleIdentity(claims: oidc.IDToken, idToken: string): ProviderIdentity {
  const verified: unknown = claims.email_verified;
  return { ...identityFromClaims(claims, idToken), emailVerified: verified === true || verified === 'true', name: null, picture: null };
}

/** A display name is short; the cap keeps a forged `user` from storing anything larger. */
const MAX_NAME_LENGTH = 200;

/**
 * The name in Apple's `user` form field, `{"name":{"firstName","lastName"},"email"}`.
 * It is not signed: only the name is taken, never the email, which the
 * ID token alone vouches for. Anything but such JSON means no name.
 */
export function nameInAppleUser(user: string): string | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(user);
  } catch {
    return null;
  }
  const name = isRecord(parsed) && isRecord(parsed.name) ? parsed.name : undefined;
  if (!name) return null;
  const parts = [name.firstName, name.lastName].map((part) => (typeof part === 'string' ? displayable(part) : '')).filter((part) => part !== '');
  if (parts.length === 0) return null;
  // By code points, so that a cut never splits a surrogate pair.
  return Array.from(parts.join(' ')).slice(0, MAX_NAME_LENGTH).join('');
}

/**
 * A name as others may be shown it: no control or format characters (a
 * right-to-left override or a zero-width joiner would make one name pass
 * for another), no lone surrogates or private-use characters, no line or
 * paragraph separators; composed (NFC), with its spaces collapsed.
 */
function displayable(text: string): string {
  return text
    .replace(/[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Zl}\p{Zp}]/gu, '')
    .normalize('NFC')
    .replace(/\s+/gu, ' ')
    .trim();
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
