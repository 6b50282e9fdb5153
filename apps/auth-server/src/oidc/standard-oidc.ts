import * as oidc from 'openid-client';
import type { OidcProviderConfig } from '../tenants/tenant.js';
import { tokenEndpointAuthentication } from './client-auth.js';
import { discoverIssuer, grantCode, identityFromClaims, requireIdToken } from './code-grant.js';
import type { ProviderKind } from './provider-kind.js';

/** Any OpenID Connect provider: discovery at its issuer, the code flow with PKCE, and the identity in its ID token. */
export const standardOidc: ProviderKind<OidcProviderConfig> = {
  discover(provider, options) {
    return discoverIssuer(provider.issuer, provider.clientId, tokenEndpointAuthentication(provider), { ...options, allowInsecureHttp: provider.allowInsecureHttp });
  },

  authorizationUrl({ configuration }, provider, parameters) {
    return oidc.buildAuthorizationUrl(configuration, {
      redirect_uri: parameters.redirectUri,
      scope: provider.scopes.join(' '),
      response_type: 'code',
      state: parameters.state,
      nonce: parameters.nonce,
      code_challenge: parameters.codeChallenge,
      code_challenge_method: 'S256',
    });
  },

  async exchangeCode(discovered, _provider, exchange) {
    const tokens = await grantCode(discovered, exchange, { idTokenExpected: true });
    const { claims, idToken } = await requireIdToken(discovered, tokens);
    return identityFromClaims(claims, idToken);
  },
};
