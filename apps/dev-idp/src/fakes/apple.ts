import { createHash, createPublicKey, randomBytes, type KeyObject } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { FormBodyError, readFormBody } from '../interactions/form-body.js';
import { findUserByCredentials, type TestUser } from '../users.js';
import { renderErrorPage } from '../views/error-page.js';
import { PAGE_HEADERS } from '../views/html.js';
import { renderAppleSignIn, renderFormPost } from './apple-pages.js';
import { createIdTokenSigner, refuseClientSecret } from './apple-tokens.js';
import type { FakeContext, FakeProvider } from './fake-provider.js';

/** A Services ID registered with the fake, with its team and the public half of the team's key. */
export interface FakeAppleClient {
  /** The Services ID. */
  client_id: string;
  team_id: string;
  key_id: string;
  /** The public key of the team's P-256 key: PEM (SPKI), or a KeyObject (a private key is reduced to its public half). */
  public_key: string | KeyObject;
  /** The return URLs registered for the Services ID: exact matches only. */
  redirect_uris: string[];
}

export interface FakeAppleOptions {
  clients: FakeAppleClient[];
}

interface PendingAuthorization {
  client: FakeAppleClient;
  redirectUri: string;
  state: string | undefined;
  nonce: string | undefined;
  codeChallenge: string | undefined;
  /** Whether the scope asks for the name or the email: only then does Apple post `user`. */
  asksForUser: boolean;
  expiresAt: number;
}

interface IssuedCode {
  client: FakeAppleClient;
  redirectUri: string;
  nonce: string | undefined;
  codeChallenge: string | undefined;
  user: TestUser;
  expiresAt: number;
}

/** Apple's authorization codes are valid for five minutes, and once. */
const CODE_LIFETIME_MS = 5 * 60 * 1000;
const PREFIX = '/apple';

/**
 * A local Sign in with Apple: discovery, the key set, a sign-in page that
 * answers with a form post (as Apple's does whenever name or email is in
 * the scope, with `user` on the first sign-in of each user only), and a
 * token endpoint that checks the ES256 client secret against the
 * registered key and issues RS256 ID tokens whose `email_verified` is a
 * string, as Apple's are.
 */
export function createFakeApple(context: FakeContext, options: FakeAppleOptions): FakeProvider {
  const issuer = `${context.origin}${PREFIX}`;
  const signer = createIdTokenSigner();
  const publicKeys = new Map(options.clients.map((client) => [client.client_id, publicKeyOf(client.public_key)]));
  const pending = new Map<string, PendingAuthorization>();
  const codes = new Map<string, IssuedCode>();
  /** Clients that were given a user's name already: Apple gives it once. */
  const named = new Set<string>();

  const routes: Record<string, (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void> | void> = {
    'GET /.well-known/openid-configuration': (_req, res) =>
      json(res, 200, {
        issuer,
        authorization_endpoint: `${issuer}/auth/authorize`,
        token_endpoint: `${issuer}/auth/token`,
        jwks_uri: `${issuer}/auth/keys`,
        response_types_supported: ['code'],
        response_modes_supported: ['query', 'fragment', 'form_post'],
        subject_types_supported: ['pairwise'],
        id_token_signing_alg_values_supported: ['RS256'],
        scopes_supported: ['openid', 'email', 'name'],
        token_endpoint_auth_methods_supported: ['client_secret_post'],
        claims_supported: ['aud', 'email', 'email_verified', 'exp', 'iat', 'is_private_email', 'iss', 'nonce', 'nonce_supported', 'real_user_status', 'sub', 'transfer_sub'],
      }),
    'GET /auth/keys': (_req, res) => json(res, 200, signer.jwks),
    'GET /auth/authorize': (_req, res, url) => authorize(res, url),
    'POST /auth/signin': async (req, res) => signIn(res, await readFormBody(req)),
    'POST /auth/token': async (req, res) => token(res, await readFormBody(req)),
  };

  function authorize(res: ServerResponse, url: URL): void {
    const query = url.searchParams;
    const client = options.clients.find((candidate) => candidate.client_id === query.get('client_id'));
    const redirectUri = query.get('redirect_uri') ?? '';
    // Without a known client and a registered return URL there is nowhere safe to answer: a page, as Apple shows.
    if (!client) return page(res, 400, 'invalid_client', 'This Services ID is not registered.');
    if (!client.redirect_uris.includes(redirectUri)) return page(res, 400, 'invalid_request', 'Invalid web redirect url.');
    if (query.get('response_type') !== 'code') return page(res, 400, 'unsupported_response_type', 'Only response_type=code.');
    const scopes = (query.get('scope') ?? '').split(' ');
    const asksForUser = scopes.includes('name') || scopes.includes('email');
    if (asksForUser && query.get('response_mode') !== 'form_post') {
      return page(res, 400, 'invalid_request', 'response_mode must be form_post when name or email scope is requested.');
    }
    const method = query.get('code_challenge_method');
    if (query.has('code_challenge') && method !== 'S256') return page(res, 400, 'invalid_request', 'code_challenge_method must be S256.');
    const request = randomBytes(16).toString('base64url');
    pending.set(request, {
      client,
      redirectUri,
      state: query.get('state') ?? undefined,
      nonce: query.get('nonce') ?? undefined,
      codeChallenge: query.get('code_challenge') ?? undefined,
      asksForUser,
      expiresAt: Date.now() + CODE_LIFETIME_MS,
    });
    res.writeHead(200, PAGE_HEADERS).end(renderAppleSignIn({ request, clientId: client.client_id, users: context.users }));
  }

  function signIn(res: ServerResponse, form: URLSearchParams): void {
    const request = form.get('request') ?? '';
    const authorization = pending.get(request);
    if (!authorization || authorization.expiresAt <= Date.now()) return page(res, 400, 'invalid_request', 'This sign-in attempt has expired. Start again.');
    const answer = (fields: Record<string, string>) => {
      pending.delete(request);
      const state: Record<string, string> = authorization.state === undefined ? {} : { state: authorization.state };
      const { html, headers } = renderFormPost(authorization.redirectUri, { ...fields, ...state });
      res.writeHead(200, headers).end(html);
    };
    if (form.get('action') === 'cancel') return answer({ error: 'user_cancelled_authorize' });

    const username = form.get('username') ?? '';
    const user = findUserByCredentials(context.users, username, form.get('password') ?? '');
    if (!user) {
      context.log(`${PREFIX}: login refused: "${username}"`);
      const html = renderAppleSignIn({ request, clientId: authorization.client.client_id, users: context.users, username, error: 'Unknown username or wrong password.' });
      res.writeHead(401, PAGE_HEADERS).end(html);
      return;
    }
    const code = `c${randomBytes(24).toString('hex')}.0.fake`;
    codes.set(code, { ...authorization, user, expiresAt: Date.now() + CODE_LIFETIME_MS });
    const key = `${authorization.client.client_id}\u0000${user.sub}`;
    const fields: Record<string, string> = { code };
    if (authorization.asksForUser && !named.has(key)) {
      named.add(key);
      const [firstName = '', ...rest] = user.name.split(' ');
      fields.user = JSON.stringify({ name: { firstName, lastName: rest.join(' ') }, email: user.email });
    }
    context.log(`${PREFIX}: login: ${user.username} -> ${authorization.client.client_id}`);
    answer(fields);
  }

  /** Apple answers no more than the error code; the reason goes to the fake's log. */
  function oauthError(res: ServerResponse, error: string, reason: string): void {
    context.log(`${PREFIX}: token request refused (${error}): ${reason}`);
    json(res, 400, { error });
  }

  function token(res: ServerResponse, form: URLSearchParams): void {
    const client = options.clients.find((candidate) => candidate.client_id === form.get('client_id'));
    if (!client) return oauthError(res, 'invalid_client', 'unknown client_id');
    const refused = refuseClientSecret(form.get('client_secret') ?? '', {
      clientId: client.client_id,
      teamId: client.team_id,
      keyId: client.key_id,
      publicKey: publicKeys.get(client.client_id)!,
      audience: issuer,
      nowSeconds: Math.floor(Date.now() / 1000),
    });
    if (refused !== undefined) return oauthError(res, 'invalid_client', `client secret: ${refused}`);
    if (form.get('grant_type') !== 'authorization_code') return oauthError(res, 'unsupported_grant_type', 'authorization_code only');
    const code = form.get('code') ?? '';
    const issued = codes.get(code);
    codes.delete(code);
    if (!issued || issued.expiresAt <= Date.now() || issued.client !== client) return oauthError(res, 'invalid_grant', 'unknown, used or expired code');
    if (form.get('redirect_uri') !== issued.redirectUri) return oauthError(res, 'invalid_grant', 'redirect_uri differs');
    if (issued.codeChallenge !== undefined) {
      const verifier = form.get('code_verifier') ?? '';
      if (createHash('sha256').update(verifier).digest('base64url') !== issued.codeChallenge) return oauthError(res, 'invalid_grant', 'code_verifier does not match');
    }
    const now = Math.floor(Date.now() / 1000);
    const idToken = signer.sign({
      iss: issuer,
      aud: client.client_id,
      exp: now + 600,
      iat: now,
      sub: subjectOf(client, issued.user),
      ...(issued.nonce === undefined ? {} : { nonce: issued.nonce, nonce_supported: true }),
      email: issued.user.email,
      // Strings, as Apple sends them.
      email_verified: String(issued.user.email_verified),
      is_private_email: 'false',
      auth_time: now,
      real_user_status: 2,
    });
    json(res, 200, { access_token: randomBytes(24).toString('hex'), token_type: 'Bearer', expires_in: 3600, refresh_token: randomBytes(24).toString('hex'), id_token: idToken });
  }

  return {
    prefix: PREFIX,
    async handle(req, res) {
      const url = new URL(req.url ?? '/', issuer);
      const route = routes[`${req.method ?? 'GET'} ${url.pathname.slice(PREFIX.length)}`];
      if (!route) return page(res, 404, 'not_found');
      try {
        await route(req, res, url);
      } catch (error) {
        if (!(error instanceof FormBodyError)) throw error;
        page(res, error.status, 'invalid_request', error.message);
      }
    },
  };
}

/** Apple's subjects are per team; the fake's are per client, which is as stable. */
function subjectOf(client: FakeAppleClient, user: TestUser): string {
  return `000${createHash('sha256').update(`${client.team_id}\u0000${user.sub}`).digest('hex').slice(0, 12)}.${user.sub}`;
}

function publicKeyOf(key: string | KeyObject): KeyObject {
  return typeof key !== 'string' && key.type === 'public' ? key : createPublicKey(key);
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' }).end(JSON.stringify(body));
}

function page(res: ServerResponse, status: number, error: string, description?: string): void {
  res.writeHead(status, PAGE_HEADERS).end(renderErrorPage(error, description));
}
