import * as oidc from 'openid-client';
import { loginRejected, providerUnavailable } from '../problems.js';
import type { GithubProviderConfig } from '../tenants/tenant.js';
import { grantCode, text } from './code-grant.js';
import type { ProviderIdentity, ProviderKind } from './provider-kind.js';

const API_VERSION = '2022-11-28';
/** GitHub refuses API requests without a User-Agent. */
const USER_AGENT = 'aimable-auth';

/**
 * GitHub and GitHub Enterprise Server: OAuth 2.0 without OpenID Connect.
 * No discovery and no ID token: the endpoints are fixed paths under the
 * base URL, and who signed in comes from the API, called once with the
 * access token, which is then dropped.
 */
export const github: ProviderKind<GithubProviderConfig> = {
  discover(provider, options) {
    const metadata: oidc.ServerMetadata = {
      // GitHub names no issuer: its base URL vouches for its user ids, and sends no `iss` (RFC 9207) to compare.
      issuer: provider.baseUrl,
      authorization_endpoint: `${provider.baseUrl}/login/oauth/authorize`,
      token_endpoint: `${provider.baseUrl}/login/oauth/access_token`,
      code_challenge_methods_supported: ['S256'],
    };
    const clientAuth = oidc.ClientSecretPost(provider.clientSecret);
    const configuration = new oidc.Configuration(metadata, provider.clientId, undefined, clientAuth);
    configuration.timeout = options.timeoutSeconds;
    configuration[oidc.customFetch] = withTokenErrorsAsOAuth;
    // http endpoints only where the tenant configuration explicitly allows them (local development).
    if (provider.allowInsecureHttp) oidc.allowInsecureRequests(configuration);
    return Promise.resolve({ configuration, keys: undefined, postedTokenKeys: undefined, clientAuthMethod: 'client_secret_post', clientAuth });
  },

  authorizationUrl({ configuration }, provider, parameters) {
    // No nonce: there is no ID token to carry it. PKCE and the state bind the code to this login.
    return oidc.buildAuthorizationUrl(configuration, {
      redirect_uri: parameters.redirectUri,
      scope: provider.scopes.join(' '),
      state: parameters.state,
      code_challenge: parameters.codeChallenge,
      code_challenge_method: 'S256',
    });
  },

  async exchangeCode(discovered, provider, exchange) {
    const tokens = await grantCode(discovered, exchange, { idTokenExpected: false });
    const call = (path: string) => callApi(provider, path, tokens.access_token, discovered.configuration.timeout);
    const [user, emails] = await Promise.all([call('/user'), call('/user/emails')]);
    return identityOf(provider, user, emails);
  },
};

/**
 * GitHub reports a refused code with HTTP 200 and `{"error": …}`. RFC 6749
 * §5.2 says 400, which openid-client reads as the OAuth error it is (a
 * rejected login) rather than as a malformed success.
 */
async function withTokenErrorsAsOAuth(url: string, init: oidc.CustomFetchOptions): Promise<Response> {
  const response = await fetch(url, init);
  if (response.status !== 200 || !response.headers.get('content-type')?.includes('application/json')) return response;
  const body: unknown = await response.clone().json().catch(() => undefined);
  if (!isObject(body) || typeof body.error !== 'string') return response;
  return new Response(JSON.stringify(body), { status: 400, headers: { 'Content-Type': 'application/json' } });
}

async function callApi(provider: GithubProviderConfig, path: string, accessToken: string, timeoutSeconds = 30): Promise<unknown> {
  let response: Response;
  try {
    response = await fetch(`${provider.apiUrl}${path}`, {
      headers: { Authorization: `Bearer ${accessToken}`, Accept: 'application/vnd.github+json', 'X-GitHub-Api-Version': API_VERSION, 'User-Agent': USER_AGENT },
      signal: AbortSignal.timeout(timeoutSeconds * 1000),
      redirect: 'error',
    });
  } catch (error) {
    throw providerUnavailable(error);
  }
  if (!response.ok) await response.body?.cancel();
  // A token GitHub just issued and now refuses: revoked meanwhile, the login is not confirmed.
  if (response.status === 401) throw loginRejected('invalid_grant', 'The identity provider did not confirm the login.', new Error(`GitHub ${path} answered 401`));
  if (!response.ok) throw providerUnavailable(new Error(`GitHub ${path} answered ${response.status}`));
  try {
    return await response.json();
  } catch (error) {
    throw providerUnavailable(error);
  }
}

/**
 * The subject is the numeric user id, never the login: a login can be
 * renamed, and then taken by someone else. The address is the primary one
 * of `/user/emails`, verified only if GitHub says so; the profile's `email`
 * is whatever the user chose to show, and proves nothing.
 */
function identityOf(provider: GithubProviderConfig, user: unknown, emails: unknown): ProviderIdentity {
  if (!isObject(user) || !Number.isSafeInteger(user.id) || (user.id as number) <= 0 || !Array.isArray(emails)) {
    throw providerUnavailable(new Error('GitHub answered /user or /user/emails without a numeric id or a list of addresses'));
  }
  const primary = emails.find((entry): entry is Record<string, unknown> => isObject(entry) && entry.primary === true && typeof entry.email === 'string');
  const email = primary ? text(primary.email) : null;
  return {
    issuer: provider.baseUrl,
    subject: String(user.id),
    email,
    emailVerified: email !== null && primary?.verified === true,
    name: text(user.name),
    picture: text(user.avatar_url),
    // OAuth 2.0 without OpenID Connect: no ID token to end a session with, and no back-channel logout.
    idToken: null,
    sid: null,
  };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
