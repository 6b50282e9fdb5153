import type { OidcProviderConfig } from '../tenants/tenant.js';
import { tokenEndpointAuthentication } from './client-auth.js';
import { codeFlowAuthorizationUrl, discoverIssuer, grantCode, identityFromClaims, requireIdToken } from './code-grant.js';
import type { ProviderKind } from './provider-kind.js';

/** Any OpenID Connect provider: discovery at its issuer, the code flow with PKCE, and the identity in its ID token. */
export const standardOidc: ProviderKind<OidcProviderConfig> = {
  discover(provider, options) {
    return discoverIssuer(provider.issuer, provider.clientId, tokenEndpointAuthentication(provider), { ...options, allowInsecureHttp: provider.allowInsecureHttp });
  },

  authorizationUrl({ configuration }, provider, parameters) {
    return codeFlowAuthorizationUrl(configuration, provider.scopes, parameters);
  },

  async exchangeCode(discovered, _provider, exchange) {
    const tokens = await grantCode(discovered, exchange, { idTokenExpected: true });
    const { claims, idToken } = await requireIdToken(discovered, tokens);
    return identityFromClaims(claims, idToken);
  },
};
