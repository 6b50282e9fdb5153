import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { FormBodyError, readFormBody } from '../interactions/form-body.js';
import { renderErrorPage } from '../views/error-page.js';
import { escapeHtml, PAGE_HEADERS, renderPage } from '../views/html.js';
import type { FakeContext, FakeProvider } from './fake-provider.js';
import { githubAccountsOf, githubEdgeAccounts, type GithubAccount } from './github-accounts.js';

export { githubAccountsOf, githubEdgeAccounts, type GithubAccount, type GithubEmail } from './github-accounts.js';

/** An OAuth App registered at the fake. */
export interface GithubFakeClient {
  client_id: string;
  client_secret: string;
  /** Exact callback URLs. */
  redirect_uris: string[];
}

/** Misbehaviours a test switches on while the fake runs (the fake reads them on every request). */
export interface GithubFaults {
  /** The token endpoint answers form-encoded even when asked for JSON. */
  formEncodedTokens?: boolean;
  /** Every API call answers this status. */
  apiStatus?: number;
  /** Every API call answers this late. */
  apiDelayMs?: number;
}

export interface GithubFakeOptions {
  clients: GithubFakeClient[];
  /**
   * Default: the test users (ids from 1001, logins their usernames) and the
   * edge accounts. Read on every request, so a test may rename a login
   * while the fake runs.
   */
  accounts?: GithubAccount[];
  faults?: GithubFaults;
}

interface IssuedCode {
  clientId: string;
  redirectUri: string;
  codeChallenge: string;
  accountId: number;
  scope: string;
  expiresAt: number;
}

type AuthorizationRequest = { client: GithubFakeClient; redirectUri: string; state: string; scope: string; codeChallenge: string } | { error: string };

export const GITHUB_PREFIX = '/github';
/** GitHub's codes expire after ten minutes. */
const CODE_TTL_MS = 10 * 60 * 1000;
const API_VERSION = '2022-11-28';

/**
 * GitHub as a relying party meets it: OAuth 2.0 without OpenID Connect.
 * The token endpoint answers form-encoded unless asked for JSON, and
 * reports errors with HTTP 200; the identity comes from `/api/user` and
 * `/api/user/emails`. Stricter than GitHub where a test must see the
 * server do right: PKCE S256, a User-Agent of its own and the API version
 * are required.
 */
export function createGithubFake(context: FakeContext, options: GithubFakeOptions): FakeProvider {
  const accounts = options.accounts ?? [...githubAccountsOf(context.users), ...githubEdgeAccounts()];
  const faults = options.faults ?? {};
  const codes = new Map<string, IssuedCode>();
  const tokens = new Map<string, { accountId: number; scope: string }>();
  const log = (line: string) => context.log(`github: ${line}`);

  function authorizationRequest(params: URLSearchParams): AuthorizationRequest {
    const client = options.clients.find((candidate) => candidate.client_id === params.get('client_id'));
    if (!client) return { error: 'The client_id is not registered.' };
    const redirectUri = params.get('redirect_uri') ?? client.redirect_uris[0]!;
    if (!client.redirect_uris.includes(redirectUri)) return { error: 'The redirect_uri MUST match the registered callback URL for this application.' };
    const codeChallenge = params.get('code_challenge');
    if (!codeChallenge || params.get('code_challenge_method') !== 'S256') return { error: 'This fake requires PKCE: code_challenge with code_challenge_method=S256.' };
    return { client, redirectUri, state: params.get('state') ?? '', scope: params.get('scope') ?? '', codeChallenge };
  }

  function showSignIn(res: ServerResponse, params: URLSearchParams): void {
    const request = authorizationRequest(params);
    if ('error' in request) return sendPage(res, 400, renderErrorPage('invalid_request', request.error));
    const hidden = [...params].map(([name, value]) => `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`).join('\n');
    const buttons = accounts
      .map((account) => `<button type="submit" name="account" value="${account.id}">${escapeHtml(account.login)}${account.name ? ` (${escapeHtml(account.name)})` : ''}</button>`)
      .join('\n');
    sendPage(
      res,
      200,
      renderPage(
        'Sign in to GitHub - dev-idp',
        `<h1>Sign in to GitHub</h1>
<p>to continue to <strong>${escapeHtml(request.client.client_id)}</strong> (a local fake of GitHub).</p>
<form method="post" action="${GITHUB_PREFIX}/login/oauth/authorize">
${hidden}
${buttons}
</form>`,
      ),
    );
  }

  async function authorize(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const form = await readFormBody(req);
    const request = authorizationRequest(form);
    if ('error' in request) return sendPage(res, 400, renderErrorPage('invalid_request', request.error));
    const account = accounts.find((candidate) => String(candidate.id) === form.get('account'));
    if (!account) return sendPage(res, 400, renderErrorPage('invalid_request', 'No such account.'));
    const code = randomBytes(10).toString('hex');
    codes.set(code, { clientId: request.client.client_id, redirectUri: request.redirectUri, codeChallenge: request.codeChallenge, accountId: account.id, scope: request.scope, expiresAt: Date.now() + CODE_TTL_MS });
    const target = new URL(request.redirectUri);
    target.searchParams.set('code', code);
    if (request.state) target.searchParams.set('state', request.state);
    log(`${account.login} (${account.id}) signed in to ${request.client.client_id}`);
    res.writeHead(302, { Location: target.href, 'Cache-Control': 'no-store' }).end();
  }

  async function exchange(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const form = await readFormBody(req);
    const wantsJson = !faults.formEncodedTokens && (req.headers.accept ?? '').includes('application/json');
    const answer = (body: Record<string, string>) => {
      res.writeHead(200, { 'Content-Type': wantsJson ? 'application/json; charset=utf-8' : 'application/x-www-form-urlencoded; charset=utf-8', 'Cache-Control': 'no-store' });
      res.end(wantsJson ? JSON.stringify(body) : new URLSearchParams(body).toString());
    };
    // GitHub reports token errors with HTTP 200 and an `error` field.
    const refuse = (error: string, description: string) => {
      log(`token request refused: ${error}`);
      answer({ error, error_description: description, error_uri: 'https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors' });
    };

    const credentials = clientCredentials(req, form);
    const client = options.clients.find((candidate) => candidate.client_id === credentials.clientId);
    if (!client || !credentials.clientSecret || !equal(client.client_secret, credentials.clientSecret)) {
      return refuse('incorrect_client_credentials', 'The client_id and/or client_secret passed are incorrect.');
    }
    const codeValue = form.get('code') ?? '';
    const issued = codes.get(codeValue);
    codes.delete(codeValue);
    if (!issued || issued.clientId !== client.client_id || issued.expiresAt < Date.now()) {
      return refuse('bad_verification_code', 'The code passed is incorrect or expired.');
    }
    if (form.get('redirect_uri') !== null && form.get('redirect_uri') !== issued.redirectUri) {
      return refuse('redirect_uri_mismatch', 'The redirect_uri MUST match the registered callback URL for this application.');
    }
    const verifier = form.get('code_verifier') ?? '';
    if (createHash('sha256').update(verifier).digest('base64url') !== issued.codeChallenge) {
      return refuse('bad_verification_code', 'The code_verifier does not match the code_challenge.');
    }
    const accessToken = `gho_${randomBytes(18).toString('base64url')}`;
    tokens.set(accessToken, { accountId: issued.accountId, scope: issued.scope });
    answer({ access_token: accessToken, token_type: 'bearer', scope: issued.scope.split(' ').join(',') });
  }

  async function api(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    if (faults.apiDelayMs) await new Promise((resolve) => setTimeout(resolve, faults.apiDelayMs));
    const json = (status: number, body: unknown): void => {
      res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8' }).end(JSON.stringify(body));
    };
    if (faults.apiStatus !== undefined) return json(faults.apiStatus, { message: 'Server Error' });
    // GitHub refuses requests without a User-Agent; the fake also refuses the runtime's default
    // (Node's fetch sends `node`) and a missing API version, so that clients prove they send both.
    const userAgent = req.headers['user-agent'];
    if (!userAgent || userAgent === 'node') return json(403, { message: 'Request forbidden by administrative rules. Please make sure your request has a User-Agent header.' });
    if (req.headers['x-github-api-version'] !== API_VERSION) return json(400, { message: `This fake answers X-GitHub-Api-Version ${API_VERSION} only.` });
    const token = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const grant = token === undefined ? undefined : tokens.get(token);
    const account = grant && accounts.find((candidate) => candidate.id === grant.accountId);
    if (!account) return json(401, { message: 'Bad credentials' });
    if (path === '/user') {
      const { id, login, name, avatar_url, email } = account;
      return json(200, { login, id, node_id: `U_${id}`, avatar_url, type: 'User', name, email });
    }
    if (path === '/user/emails') return json(200, account.emails);
    json(404, { message: 'Not Found' });
  }

  return {
    prefix: GITHUB_PREFIX,
    async handle(req, res) {
      const url = new URL(req.url ?? '/', context.origin);
      const path = url.pathname.slice(GITHUB_PREFIX.length);
      try {
        if (path === '/login/oauth/authorize' && req.method === 'GET') return showSignIn(res, url.searchParams);
        if (path === '/login/oauth/authorize' && req.method === 'POST') return await authorize(req, res);
        if (path === '/login/oauth/access_token' && req.method === 'POST') return await exchange(req, res);
        if (path.startsWith('/api/') && req.method === 'GET') return await api(req, res, path.slice('/api'.length));
        sendPage(res, 404, renderErrorPage('not_found'));
      } catch (error) {
        if (!(error instanceof FormBodyError)) throw error;
        sendPage(res, error.status, renderErrorPage('invalid_request', error.message));
      }
    },
  };
}

/** The client's id and secret, from HTTP Basic (RFC 6749 §2.3.1, form-encoded inside) or the form. */
function clientCredentials(req: IncomingMessage, form: URLSearchParams): { clientId: string | null; clientSecret: string | null } {
  const basic = /^Basic (.+)$/i.exec(req.headers.authorization ?? '')?.[1];
  if (basic === undefined) return { clientId: form.get('client_id'), clientSecret: form.get('client_secret') };
  const decoded = Buffer.from(basic, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  const unescape = (part: string) => decodeURIComponent(part.replaceAll('+', ' '));
  try {
    return colon < 0 ? { clientId: null, clientSecret: null } : { clientId: unescape(decoded.slice(0, colon)), clientSecret: unescape(decoded.slice(colon + 1)) };
  } catch {
    return { clientId: null, clientSecret: null };
  }
}

function equal(expected: string, given: string): boolean {
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}

function sendPage(res: ServerResponse, status: number, html: string): void {
  res.writeHead(status, PAGE_HEADERS).end(html);
}
