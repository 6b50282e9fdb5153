import type { EventEmitter } from 'node:events';
import Provider, { errors, type ClientMetadata, type Configuration, type JWK } from 'oidc-provider';
import { authMethodOf, type DevIdpClient, type TokenEndpointAuthMethod } from '../options.js';
import type { TestUser } from '../users.js';
import { renderErrorPage } from '../views/error-page.js';
import { PAGE_HEADERS } from '../views/html.js';
import { renderLoggedOutPage, renderLogoutPage } from '../views/logout-pages.js';
import { createFindAccount } from './find-account.js';
import { generateCookieKeys, generateSigningKeys } from './signing-keys.js';

export interface ProviderSetup {
  issuer: string;
  clients: readonly DevIdpClient[];
  tokenEndpointAuthMethods: readonly TokenEndpointAuthMethod[];
  users: readonly TestUser[];
  log: (line: string) => void;
}

const HOUR = 60 * 60;

/**
 * Builds the oidc-provider instance. Only settings that differ from
 * oidc-provider's defaults, or that the rest of this package relies on, are
 * spelled out here.
 *
 * Cookies need no override for plain http: oidc-provider marks them Secure
 * only when the request itself arrived over TLS.
 */
export function createProvider(setup: ProviderSetup): Provider {
  const configuration: Configuration = {
    clients: setup.clients.map(toClientMetadata),
    findAccount: createFindAccount(setup.users),
    jwks: { keys: generateSigningKeys() },
    cookies: { keys: generateCookieKeys() },

    // Authorization code flow only (RFC 9700 §2.1.1 rules out the implicit and hybrid flows).
    responseTypes: ['code'],
    // MUST: PKCE for every client. oidc-provider 9 only requires it for public
    // clients by default; RPs developed against this provider must not get away without it.
    pkce: { required: () => true },
    clientAuthMethods: [...setup.tokenEndpointAuthMethods],

    // No offline_access: clients get no refresh tokens, as they only hold the authorization_code grant.
    scopes: ['openid'],
    // Each scope below also becomes a supported scope.
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'picture'],
    },
    // Put the scope-granted claims into the ID token itself, so an RP needs no userinfo call.
    conformIdTokenClaims: false,

    features: {
      // We serve our own pages; devInteractions would also log a warning on every start.
      devInteractions: { enabled: false },
      // OpenID Connect RP-Initiated Logout 1.0: an RP sends the browser to end_session_endpoint to sign out here.
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: (ctx, form) => {
          ctx.type = 'html';
          ctx.set('Content-Security-Policy', PAGE_HEADERS['Content-Security-Policy']);
          ctx.body = renderLogoutPage(ctx.host, form);
        },
        postLogoutSuccessSource: (ctx) => {
          ctx.type = 'html';
          ctx.set('Content-Security-Policy', PAGE_HEADERS['Content-Security-Policy']);
          ctx.body = renderLoggedOutPage(ctx.oidc.client?.clientId);
        },
      },
      // OpenID Connect Back-Channel Logout 1.0: a sign-out here posts a logout token to each client that registered a
      // backchannel_logout_uri, before the browser is sent on.
      backchannelLogout: { enabled: true },
    },
    // The relying parties of a development provider listen on loopback, which oidc-provider's own fetch refuses
    // (its guard against requests to internal addresses): back-channel logout posts go out with a plain fetch.
    fetch: (url, options) => globalThis.fetch(url, { ...options, dispatcher: undefined } as RequestInit),
    interactions: {
      // Must agree with INTERACTION_PATH_PREFIX, which server.ts routes to our handlers.
      url: (_ctx, interaction) => `/interaction/${interaction.uid}`,
    },

    // Explicit lifetimes: the defaults are functions that print a notice on first use.
    ttl: {
      AccessToken: HOUR,
      AuthorizationCode: 60,
      IdToken: HOUR,
      Interaction: HOUR,
      Grant: 14 * 24 * HOUR,
      Session: 14 * 24 * HOUR,
    },

    renderError: (ctx, out) => {
      ctx.type = 'html';
      ctx.body = renderErrorPage(out.error, out.error_description);
    },
  };

  const provider = new Provider(setup.issuer, configuration);
  logProviderErrors(provider, setup.log);
  logClientAuthentication(provider, setup.log);
  return provider;
}

function toClientMetadata(client: DevIdpClient): ClientMetadata {
  const method = authMethodOf(client);
  return {
    client_id: client.client_id,
    // oidc-provider refuses a secret for a client that cannot use one.
    ...(method === 'none' || method === 'private_key_jwt' ? {} : { client_secret: client.client_secret }),
    // Checked by oidc-provider when it registers the client.
    ...(client.jwks ? { jwks: client.jwks as { keys: JWK[] } } : {}),
    redirect_uris: [...client.redirect_uris],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    ...(client.post_logout_redirect_uris === undefined ? {} : { post_logout_redirect_uris: [...client.post_logout_redirect_uris] }),
    // With a back-channel logout URI, ID tokens carry `sid`, which the logout token then names.
    ...(client.backchannel_logout_uri === undefined ? {} : { backchannel_logout_uri: client.backchannel_logout_uri, backchannel_logout_session_required: true }),
    // oidc-provider 9 accepts client_secret_post from a client registered for basic, and vice versa; the
    // other methods it enforces.
    token_endpoint_auth_method: method,
  };
}

// Which method a client really used, since oidc-provider takes basic and post for one another:
// an RP developer checking its configuration can read it here.
function logClientAuthentication(provider: Provider, log: (line: string) => void): void {
  provider.on('grant.success', (ctx) => {
    const { client, params } = ctx.oidc;
    if (!client) return;
    let method = 'none';
    if (ctx.headers.authorization !== undefined) method = 'client_secret_basic';
    else if (params?.client_secret !== undefined) method = 'client_secret_post';
    else if (params?.client_assertion !== undefined) method = client.clientAuthMethod ?? 'private_key_jwt';
    log(`grant.success: ${client.clientId} authenticated with ${method}`);
  });
}

// The reason behind an OAuth error (`error_detail`) is only in the provider's
// events; without them a developer sees "invalid_grant" and has to guess.
function logProviderErrors(provider: Provider, log: (line: string) => void): void {
  const events = ['authorization.error', 'grant.error', 'server_error', 'userinfo.error', 'jwks.error', 'discovery.error', 'end_session.error', 'backchannel.error'];
  // The typed overloads of `on` want one literal per call; all of these share the (ctx, error) signature.
  const emitter: EventEmitter = provider;
  for (const event of events) {
    emitter.on(event, (_ctx: unknown, error: Error) => log(`${event}: ${describeError(error)}`));
  }
}

function describeError(error: Error): string {
  if (!(error instanceof errors.OIDCProviderError)) return error.stack ?? error.message;
  const { error_description: description, error_detail: detail } = error as { error_description?: string; error_detail?: string };
  return [error.message, description, detail].filter(Boolean).join(' - ');
}
