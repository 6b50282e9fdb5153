import { createHash, generateKeyPairSync, randomBytes, sign, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TestUser } from '../users.js';
import { escapeHtml, PAGE_HEADERS, renderPage } from '../views/html.js';
import type { FakeContext, FakeProvider } from './fake-provider.js';

/** The fake's two directories (Entra tenants): a relying party may allow one and not the other. */
export const ENTRA_DIRECTORIES = {
  contoso: '6f1c9a52-3b7e-4d0a-9c41-2e8b5d7f0a13',
  fabrikam: 'c2d84e07-91af-4b6c-8e35-7a0f14b9d6e2',
} as const;

/** Accounts whose ID tokens a relying party must refuse: Mallory's names one directory in `tid` and another in `iss`; Eve's is signed with a key the key set does not hold. */
export const ENTRA_FORGERIES = { directoryMismatch: 'mallory', unknownKey: 'eve' } as const;

/** An application registered with the fake Entra ID. */
export interface FakeEntraClient {
  client_id: string;
  client_secret: string;
  redirect_uris: string[];
}

export interface FakeEntraOptions {
  /** The applications registered with the fake, each with its secret and redirect URIs. */
  clients: FakeEntraClient[];
}

interface Member {
  user: TestUser;
  directory: string;
  /** The directory its ID token claims in `iss`, where it differs from `tid` (a forgery). */
  issuerDirectory?: string;
  /** Its ID token is signed with another key under the published key's id (a forgery). */
  signedByImpostor?: boolean;
}

interface IssuedCode {
  member: Member;
  clientId: string;
  redirectUri: string;
  codeChallenge: string;
  nonce: string | undefined;
  expiresAt: number;
}

const PREFIX = '/entra';
const MULTI_TENANT = new Set(['common', 'organizations']);
const CODE_TTL_MS = 60_000;

/**
 * Microsoft Entra ID as a relying party sees it: discovery per directory
 * path (`common` and `organizations` announce the `{tenantid}` issuer
 * template), one key set, a sign-in page with a button per user, and a
 * token endpoint that checks the client secret, the code, the redirect URI
 * and PKCE, and issues RS256 ID tokens whose `iss` names the user's own
 * directory. Like Entra, it sends no `iss` in the authorization response
 * and its `email` carries no `email_verified`; Fabrikam's tokens carry
 * `xms_edov` (the directory owns the address's domain).
 */
export function createFakeEntra(context: FakeContext, options: FakeEntraOptions): FakeProvider {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const impostorKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  const kid = randomBytes(8).toString('hex');
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid, use: 'sig', alg: 'RS256' };
  const base = `${context.origin}${PREFIX}`;
  const codes = new Map<string, IssuedCode>();
  const members = membersOf(context.users);

  const signIdToken = (claims: Record<string, unknown>, member: Member) => {
    const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const input = `${encode({ typ: 'JWT', alg: 'RS256', kid })}.${encode(claims)}`;
    return `${input}.${sign('sha256', Buffer.from(input), member.signedByImpostor ? impostorKey : privateKey).toString('base64url')}`;
  };

  return {
    prefix: PREFIX,
    async handle(req, res) {
      const url = new URL(req.url ?? '/', context.origin);
      const [directory, ...rest] = url.pathname.slice(PREFIX.length + 1).split('/');
      const path = rest.join('/');
      const known = directory !== undefined && (MULTI_TENANT.has(directory) || Object.values<string>(ENTRA_DIRECTORIES).includes(directory));
      if (!known) return json(res, 400, { error: 'invalid_tenant', error_description: 'AADSTS90002: Tenant not found.' });
      const at = `${base}/${directory}`;

      if (path === 'v2.0/.well-known/openid-configuration') {
        return json(res, 200, {
          issuer: `${base}/${MULTI_TENANT.has(directory) ? '{tenantid}' : directory}/v2.0`,
          authorization_endpoint: `${at}/oauth2/v2.0/authorize`,
          token_endpoint: `${at}/oauth2/v2.0/token`,
          jwks_uri: `${at}/discovery/v2.0/keys`,
          response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
          response_modes_supported: ['query', 'fragment', 'form_post'],
          subject_types_supported: ['pairwise'],
          id_token_signing_alg_values_supported: ['RS256'],
          token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
          scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
          claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'nonce', 'name', 'preferred_username', 'email', 'oid', 'tid', 'ver'],
        });
      }
      if (path === 'discovery/v2.0/keys') return json(res, 200, { keys: [jwk] });

      if (path === 'oauth2/v2.0/authorize') {
        const params = url.searchParams;
        const client = options.clients.find((candidate) => candidate.client_id === params.get('client_id'));
        const redirectUri = params.get('redirect_uri') ?? '';
        if (!client || !client.redirect_uris.includes(redirectUri)) return page(res, 400, 'AADSTS50011: The redirect URI does not match the application.');
        if (params.get('response_type') !== 'code' || params.get('code_challenge_method') !== 'S256' || !params.get('code_challenge')) {
          return page(res, 400, 'AADSTS900144: this fake accepts only response_type=code with PKCE S256.');
        }
        // Every account, at every directory's endpoint, unlike Entra: the relying party, not the fake, must refuse another directory's token.
        if (req.method !== 'POST') return page(res, 200, signInPage(client.client_id, members), true);
        const username = new URLSearchParams(await readBody(req)).get('username');
        const member = members.find((candidate) => candidate.user.username === username);
        if (!member) return page(res, 400, 'AADSTS50034: The user account does not exist in this directory.');
        const code = `1.AQoA${randomBytes(48).toString('base64url')}`;
        codes.set(code, {
          member,
          clientId: client.client_id,
          redirectUri,
          codeChallenge: params.get('code_challenge')!,
          nonce: params.get('nonce') ?? undefined,
          expiresAt: Date.now() + CODE_TTL_MS,
        });
        const back = new URL(redirectUri);
        back.searchParams.set('code', code);
        if (params.has('state')) back.searchParams.set('state', params.get('state')!);
        back.searchParams.set('session_state', randomBytes(16).toString('hex'));
        context.log(`${PREFIX}: ${member.user.username} signed in to ${client.client_id}`);
        res.writeHead(302, { Location: back.href, 'Cache-Control': 'no-store' }).end();
        return;
      }

      if (path === 'oauth2/v2.0/token' && req.method === 'POST') {
        const form = new URLSearchParams(await readBody(req));
        const client = authenticatedClient(req, form, options.clients);
        if (!client) return json(res, 401, { error: 'invalid_client', error_description: 'AADSTS7000215: Invalid client secret provided.' });
        const issued = codes.get(form.get('code') ?? '');
        codes.delete(form.get('code') ?? '');
        const verifier = form.get('code_verifier') ?? '';
        const challenge = createHash('sha256').update(verifier).digest('base64url');
        if (
          form.get('grant_type') !== 'authorization_code' ||
          !issued ||
          issued.expiresAt < Date.now() ||
          issued.clientId !== client.client_id ||
          issued.redirectUri !== form.get('redirect_uri') ||
          challenge !== issued.codeChallenge
        ) {
          return json(res, 400, { error: 'invalid_grant', error_description: 'AADSTS70008: The provided authorization code or PKCE verifier is invalid.' });
        }
        const now = Math.floor(Date.now() / 1000);
        const { user, directory: tid, issuerDirectory } = issued.member;
        const idToken = signIdToken({
          ver: '2.0',
          iss: `${base}/${issuerDirectory ?? tid}/v2.0`,
          aud: client.client_id,
          iat: now,
          nbf: now,
          exp: now + 3600,
          // Pairwise, as Entra's: one subject per user and application.
          sub: createHash('sha256').update(`${client.client_id}:${user.sub}`).digest('base64url').slice(0, 43),
          oid: objectIdOf(user),
          tid,
          ...(issued.nonce === undefined ? {} : { nonce: issued.nonce }),
          name: user.name,
          preferred_username: user.email,
          email: user.email,
          // Fabrikam has verified its email domain and asked for the optional claim; Contoso has not.
          ...(tid === ENTRA_DIRECTORIES.fabrikam ? { xms_edov: true } : {}),
        }, issued.member);
        return json(res, 200, { token_type: 'Bearer', scope: 'openid profile email', expires_in: 3600, access_token: randomBytes(32).toString('base64url'), id_token: idToken });
      }
      json(res, 404, { error: 'not_found' });
    },
  };
}

/** Ada and Alan belong to Contoso, Grace to Fabrikam; Mallory's and Eve's tokens are forged. */
function membersOf(users: readonly TestUser[]): Member[] {
  const members: Member[] = users.map((user, i) => ({ user, directory: i === users.length - 1 && users.length > 1 ? ENTRA_DIRECTORIES.fabrikam : ENTRA_DIRECTORIES.contoso }));
  const forger = (username: string, name: string): TestUser => ({ username, password: 'password', sub: `user-${username}`, email: `${username}@example.com`, email_verified: false, name, picture: null });
  return [
    ...members,
    { user: forger(ENTRA_FORGERIES.directoryMismatch, 'Mallory (forged directory)'), directory: ENTRA_DIRECTORIES.contoso, issuerDirectory: ENTRA_DIRECTORIES.fabrikam },
    { user: forger(ENTRA_FORGERIES.unknownKey, 'Eve (forged signature)'), directory: ENTRA_DIRECTORIES.contoso, signedByImpostor: true },
  ];
}

/** A stable GUID-shaped object id, as the directory would assign. */
function objectIdOf(user: TestUser): string {
  const hex = createHash('sha256').update(`oid:${user.sub}`).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** client_secret_post or client_secret_basic, compared in constant time. */
function authenticatedClient(req: IncomingMessage, form: URLSearchParams, clients: readonly FakeEntraClient[]): FakeEntraClient | undefined {
  let id = form.get('client_id');
  let secret = form.get('client_secret');
  const basic = /^Basic (.+)$/i.exec(req.headers.authorization ?? '');
  if (basic) {
    const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    id = decodeURIComponent(decoded.slice(0, colon));
    secret = decodeURIComponent(decoded.slice(colon + 1));
  }
  const client = clients.find((candidate) => candidate.client_id === id);
  if (!client || secret === null) return undefined;
  const a = Buffer.from(client.client_secret);
  const b = Buffer.from(secret);
  return a.length === b.length && timingSafeEqual(a, b) ? client : undefined;
}

function signInPage(clientId: string, members: readonly Member[]): string {
  const directoryName = (id: string) => Object.entries(ENTRA_DIRECTORIES).find(([, tid]) => tid === id)?.[0] ?? id;
  const buttons = members
    .map((member) => `<button type="submit" name="username" value="${escapeHtml(member.user.username)}">${escapeHtml(member.user.name)} (${escapeHtml(directoryName(member.directory))})</button>`)
    .join('\n');
  return `<h1>Sign in with Microsoft</h1>
<p>to <strong>${escapeHtml(clientId)}</strong> at the fake Microsoft Entra ID. Pick an account:</p>
<form method="post">
${buttons}
</form>`;
}

function page(res: ServerResponse, status: number, body: string, isHtml = false): void {
  res.writeHead(status, PAGE_HEADERS).end(renderPage('Sign in - fake Microsoft Entra ID', isHtml ? body : `<p class="error" role="alert">${escapeHtml(body)}</p>`));
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' }).end(JSON.stringify(body));
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => resolve(body));
    req.on('error', reject);
  });
}
