import { decodeJwt } from 'jose';
import * as oauth from 'oauth4webapi';
import { ApiProblem } from '@aimable/auth-server-kit';
import { loginRejected, providerUnavailable } from '../problems.js';
import type { MicrosoftProviderConfig, TokenEndpointAuthMethod } from '../tenants/tenant.js';
import { tokenEndpointAuthentication } from './client-auth.js';
import { codeFlowAuthorizationUrl, discoverIssuer, identityFromClaims, translateExchangeError, verifyIdTokenSignature } from './code-grant.js';
import type { CodeExchange, DiscoveredProvider, ProviderIdentity, ProviderKind } from './provider-kind.js';

/** What Entra's multi-tenant discovery documents put where the directory id goes in `issuer`. */
const TENANT_TEMPLATE = '{tenantid}';
/** The directory of personal Microsoft accounts: the `consumers` discovery document names it instead of the template. */
const CONSUMERS_DIRECTORY = '9188040d-6c67-4c5b-b112-36a304b66dad';
const DIRECTORY_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const UNREACHABLE_CODES = new Set<string>([oauth.RESPONSE_IS_NOT_CONFORM, oauth.RESPONSE_IS_NOT_JSON]);

/**
 * Microsoft Entra ID. A multi-tenant directory (`common`, `organizations`)
 * announces the issuer `{authority}/{tenantid}/v2.0`, and each ID token
 * names the user's own directory in `iss` and `tid`: the issuer a token
 * must carry is the template filled with its own `tid`. Everything else is
 * as strict as plain OpenID Connect: the signature with the provider's key
 * set, `aud`, `exp`, `nonce` and PKCE.
 */
export const microsoftEntra: ProviderKind<MicrosoftProviderConfig> = {
  async discover(provider, options) {
    // The full document URL: openid-client then leaves the issuer check to us (it would refuse the template).
    const document = `${provider.authority}/${provider.directory}/v2.0/.well-known/openid-configuration`;
    const discovered = await discoverIssuer(document, provider.clientId, tokenEndpointAuthentication(provider), { ...options, allowInsecureHttp: provider.allowInsecureHttp });
    const issuer = discovered.configuration.serverMetadata().issuer;
    if (!announcedIssuers(provider).includes(issuer)) {
      throw providerUnavailable(new Error(`the directory's discovery document names the issuer ${issuer}, expected ${announcedIssuers(provider).join(' or ')}`));
    }
    return discovered;
  },

  authorizationUrl({ configuration }, provider, parameters) {
    return codeFlowAuthorizationUrl(configuration, provider.scopes, parameters);
  },

  async exchangeCode(discovered, provider, exchange) {
    const { claims, idToken } = await grantWithDirectoryIssuer(discovered, provider, exchange);
    await verifyIdTokenSignature(discovered, idToken);
    const directory = claims.tid as string;
    if (provider.allowedDirectories.length > 0 && !provider.allowedDirectories.includes(directory)) {
      throw loginRejected('invalid_grant', 'This organisation may not sign in here.', new Error(`directory ${directory} is not in allowed_directories`));
    }
    return identityOf(claims, idToken);
  },
};

/** The issuers a discovery document may announce for the configured directory. */
function announcedIssuers(provider: MicrosoftProviderConfig): string[] {
  const of = (directory: string) => `${provider.authority}/${directory}/v2.0`;
  switch (provider.directory) {
    case 'common':
    case 'organizations':
      return [of(TENANT_TEMPLATE)];
    case 'consumers':
      return [of(TENANT_TEMPLATE), of(CONSUMERS_DIRECTORY)];
    default:
      return [of(provider.directory)];
  }
}

/**
 * The code exchange of openid-client, with one difference: the issuer the ID
 * token is validated against is the announced one with the token's own `tid`
 * in place of `{tenantid}` (what oauth4webapi's author advises for Entra,
 * panva/oauth4webapi#131). A token whose `iss` names another directory than
 * its `tid` is refused there; for a single directory the issuer has no
 * template and must match as announced.
 */
async function grantWithDirectoryIssuer(
  { configuration, clientAuth, clientAuthMethod }: DiscoveredProvider,
  provider: MicrosoftProviderConfig,
  exchange: CodeExchange,
): Promise<{ claims: oauth.IDToken; idToken: string }> {
  // Its own copy, without openid-client's helper methods: oauth4webapi takes metadata only.
  const { supportsPKCE: _helper, ...as } = configuration.serverMetadata();
  const client = configuration.clientMetadata();
  const requestOptions = { [oauth.allowInsecureRequests]: provider.allowInsecureHttp, signal: AbortSignal.timeout((configuration.timeout ?? 30) * 1000) };
  let response: Response;
  try {
    const callbackUrl = new URL(exchange.redirectUri);
    callbackUrl.searchParams.set('code', exchange.code);
    callbackUrl.searchParams.set('state', exchange.state);
    const parameters = oauth.validateAuthResponse(as, client, callbackUrl.searchParams, exchange.state);
    response = await oauth.authorizationCodeGrantRequest(as, client, clientAuth, parameters, exchange.redirectUri, exchange.pkceVerifier, requestOptions);
  } catch (error) {
    throw translate(error, clientAuthMethod);
  }
  const directory = await directoryNamedBy(response.clone());
  const issuer = as.issuer.replace(TENANT_TEMPLATE, directory);
  try {
    const result = await oauth.processAuthorizationCodeResponse({ ...as, issuer }, client, response, { expectedNonce: exchange.nonce, requireIdToken: true });
    const claims = oauth.getValidatedIdTokenClaims(result);
    if (!claims || typeof result.id_token !== 'string') throw loginRejected('invalid_grant', 'The identity provider returned no ID token.');
    // The directory in `iss` and in `tid` must be one, for a single directory too, where the template played no part.
    if (claims.tid !== directory || claims.iss !== `${provider.authority}/${directory}/v2.0`) throw new Error('the ID token names two directories, or none');
    return { claims, idToken: result.id_token };
  } catch (error) {
    throw translate(error, clientAuthMethod);
  }
}

/**
 * The `tid` the token response's ID token claims, read before validation
 * only to know which issuer to expect; a value that is not a directory id
 * is refused here, so it never lands in an issuer.
 */
async function directoryNamedBy(response: Response): Promise<string> {
  let tid: unknown;
  try {
    const body = (await response.json()) as { id_token?: unknown };
    tid = typeof body.id_token === 'string' ? decodeJwt(body.id_token).tid : undefined;
  } catch {
    // Not JSON or not a JWT: processAuthorizationCodeResponse reports what is wrong with it.
    return TENANT_TEMPLATE;
  }
  if (tid === undefined) return TENANT_TEMPLATE;
  if (typeof tid !== 'string' || !DIRECTORY_ID.test(tid)) {
    throw loginRejected('invalid_grant', 'The identity provider did not confirm the login.', new Error('the ID token names no valid directory (tid)'));
  }
  return tid;
}

/**
 * The person in a validated Entra ID token. `sub` is pairwise (one value
 * per user and application) and the issuer names the directory, so the
 * pair is unique. Entra's `email` is whatever the directory holds, which
 * users or their administrators may set to any address: it is verified
 * only when Microsoft vouches that the directory owns the address's domain
 * (`xms_edov`). Entra issues no `email_verified` of its own; one in a token
 * came from a directory's claims-mapping policy, which its admin writes.
 */
function identityOf(claims: oauth.IDToken, idToken: string): ProviderIdentity {
  const identity = identityFromClaims(claims, idToken);
  return { ...identity, emailVerified: identity.email !== null && claims.xms_edov === true };
}

function translate(error: unknown, method: TokenEndpointAuthMethod): Error {
  if (error instanceof ApiProblem) return error;
  if (error instanceof DOMException && (error.name === 'TimeoutError' || error.name === 'AbortError')) return providerUnavailable(error);
  if (error instanceof oauth.OperationProcessingError && UNREACHABLE_CODES.has(error.code ?? '')) return providerUnavailable(error);
  return translateExchangeError(error, method);
}
