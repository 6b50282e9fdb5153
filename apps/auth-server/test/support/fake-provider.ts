import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type JWK, type JWTPayload } from 'jose';

type KeyPair = Awaited<ReturnType<typeof generateKeyPair>>;

/** What the token endpoint puts in the ID token, and how it signs it. */
export interface IdTokenPlan {
  claims: JWTPayload;
  /** Sign with this key instead of the published one. */
  signWith?: KeyPair['privateKey'];
  /** Leave `kid` out of the header (the JWKS then publishes the key without one). */
  omitKid?: boolean;
  /** Send an unsigned token (`alg: none`). */
  unsigned?: boolean;
}

export type Scenario = (valid: JWTPayload, keys: { rogue: KeyPair['privateKey'] }) => IdTokenPlan;

export const scenarios = {
  valid: (valid) => ({ claims: valid }),
} satisfies Record<string, Scenario>;

/**
 * How a real provider shapes what an RP sees: its issuer's path, its codes,
 * and the parameters it adds to the redirect back (sent unencoded where
 * RFC 3986 allows it in a query, as browsers pass them on).
 */
export interface ProviderProfile {
  name: string;
  /** The issuer's path after the origin, for example `/realms/acme`; `/` for an issuer with a trailing slash. */
  issuerPath: string;
  /** Advertises `authorization_response_iss_parameter_supported` (RFC 9207). */
  advertisesIssuer: boolean;
  /** Sends `iss` in the authorization response. */
  sendsIssuer: boolean;
  newCode(): string;
  /** What the redirect back carries besides `code`, `state` and `iss`, as raw query text. */
  extraParameters: string;
}

const random = (bytes: number) => randomBytes(bytes).toString('base64url');
const uuid = () => crypto.randomUUID();

/** Each provider as it answers in the wild: the extra parameters are the ones each sends. */
export const profiles = {
  plain: { name: 'plain', issuerPath: '', advertisesIssuer: true, sendsIssuer: true, newCode: () => random(16), extraParameters: '' },
  google: {
    name: 'Google',
    issuerPath: '',
    advertisesIssuer: false,
    sendsIssuer: true,
    newCode: () => `4/0Ab${random(40)}`,
    extraParameters:
      'scope=email+profile+openid+https://www.googleapis.com/auth/userinfo.profile+https://www.googleapis.com/auth/userinfo.email&authuser=0&hd=example.com&prompt=consent',
  },
  keycloak: {
    name: 'Keycloak',
    issuerPath: '/realms/acme',
    advertisesIssuer: true,
    sendsIssuer: true,
    newCode: () => `${uuid()}.${uuid()}.${uuid()}`,
    extraParameters: `session_state=${uuid()}`,
  },
  entra: {
    name: 'Microsoft Entra ID',
    issuerPath: '/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0',
    advertisesIssuer: false,
    sendsIssuer: false,
    newCode: () => `1.AQoA${random(120)}`,
    extraParameters: `session_state=${uuid()}`,
  },
  okta: {
    name: 'Okta',
    issuerPath: '/oauth2/default',
    advertisesIssuer: false,
    sendsIssuer: false,
    newCode: () => random(32),
    extraParameters: `session_state=${random(24)}`,
  },
  auth0: { name: 'Auth0', issuerPath: '/', advertisesIssuer: false, sendsIssuer: false, newCode: () => random(24), extraParameters: '' },
} satisfies Record<string, ProviderProfile>;

interface Authorization {
  nonce: string;
  codeChallenge: string;
  clientId: string;
  redirectUri: string;
}

/**
 * An identity provider that misbehaves on demand, for the failures a real
 * one will not produce: the OpenID Foundation's RP certification cases.
 * It implements just enough: discovery, an authorization shortcut, the
 * token endpoint (with PKCE) and the JWKS.
 */
export class FakeProvider {
  scenario: Scenario = scenarios.valid;
  tokenRequests = 0;
  /** Delay before the token endpoint answers, to widen races. */
  tokenDelayMs = 0;
  /** Cut token requests off, as an unreachable provider would. */
  dropTokenRequests = false;
  /** Answer discovery with a 503, as a provider in trouble does. */
  failDiscovery = false;
  /** Where the token endpoint is, as discovery announces it. */
  tokenPath = '/token';
  /** What discovery announces as `jwks_uri`, in place of the real one: a provider that announces nonsense. */
  announcedJwksUri: unknown = undefined;
  /** The signing key's id, which a rotation changes. */
  #kid = 'k1';
  /** JWKS fetches, to see a rotation followed. */
  jwksRequests = 0;
  /** The provider session id its ID tokens carry as `sid`; none when undefined. */
  sid: string | undefined;
  readonly issuer: string;
  readonly #origin: string;
  readonly #codes = new Map<string, Authorization>();

  private constructor(
    private readonly server: Server,
    private readonly keys: { signing: KeyPair; rogue: KeyPair; publicJwk: JWK },
    readonly profile: ProviderProfile,
  ) {
    this.#origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    this.issuer = `${this.#origin}${profile.issuerPath}`;
  }

  static async start(profile: ProviderProfile = profiles.plain): Promise<FakeProvider> {
    const signing = await generateKeyPair('RS256');
    const rogue = await generateKeyPair('RS256');
    const publicJwk = await exportJWK(signing.publicKey);
    let provider: FakeProvider | undefined;
    const server = createServer((req, res) => void provider!.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    provider = new FakeProvider(server, { signing, rogue, publicJwk }, profile);
    return provider;
  }

  /**
   * What the login page would do: approve the request, and redirect the
   * browser back as this provider does. Returns the redirect's raw query,
   * unencoded where a query allows it.
   */
  authorizationResponse(authorizationUrl: string): { code: string; query: string } {
    const url = new URL(authorizationUrl);
    const code = this.authorize(authorizationUrl);
    const parts = [`code=${code}`, `state=${url.searchParams.get('state')}`];
    if (this.profile.sendsIssuer) parts.push(`iss=${this.issuer}`);
    if (this.profile.extraParameters) parts.push(this.profile.extraParameters);
    return { code, query: parts.join('&') };
  }

  /** What the login page would do: approve the request and return the code. */
  authorize(authorizationUrl: string): string {
    const url = new URL(authorizationUrl);
    const code = this.profile.newCode();
    this.#codes.set(code, {
      nonce: url.searchParams.get('nonce') ?? '',
      codeChallenge: url.searchParams.get('code_challenge') ?? '',
      clientId: url.searchParams.get('client_id') ?? '',
      redirectUri: url.searchParams.get('redirect_uri') ?? '',
    });
    return code;
  }

  /**
   * A token as this provider would sign it (a back-channel logout token, say),
   * or signed by another key, under another key id, unsigned, or MACed with a
   * shared secret.
   */
  async signToken(claims: JWTPayload, options: { rogue?: boolean; kid?: string; unsigned?: boolean; hmacSecret?: string } = {}): Promise<string> {
    if (options.hmacSecret !== undefined) {
      return new SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid: this.#kid }).sign(new TextEncoder().encode(options.hmacSecret));
    }
    if (options.kid !== undefined) {
      return new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: options.kid }).sign(options.rogue ? this.keys.rogue.privateKey : this.keys.signing.privateKey);
    }
    return this.idToken({ claims, unsigned: options.unsigned, ...(options.rogue ? { signWith: this.keys.rogue.privateKey } : {}) });
  }

  /** Replaces the signing key with a new one under a new key id; the JWKS publishes only the new one. */
  async rotateSigningKey(): Promise<void> {
    const signing = await generateKeyPair('RS256');
    this.keys.signing = signing;
    this.keys.publicJwk = await exportJWK(signing.publicKey);
    this.#kid = `k${randomBytes(3).toString('hex')}`;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.#origin);
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify(body));
    };
    if (url.pathname.endsWith('/.well-known/openid-configuration')) {
      if (this.failDiscovery) return json(503, { error: 'temporarily_unavailable' });
      return json(200, {
        issuer: this.issuer,
        authorization_endpoint: `${this.#origin}/authorize`,
        token_endpoint: `${this.#origin}${this.tokenPath}`,
        jwks_uri: this.announcedJwksUri === undefined ? `${this.#origin}/jwks` : this.announcedJwksUri,
        response_types_supported: ['code'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['RS256'],
        code_challenge_methods_supported: ['S256'],
        ...(this.profile.advertisesIssuer ? { authorization_response_iss_parameter_supported: true } : {}),
      });
    }
    if (url.pathname === '/jwks') {
      const plan = this.scenario({}, { rogue: this.keys.rogue.privateKey });
      this.jwksRequests += 1;
      return json(200, { keys: [{ ...this.keys.publicJwk, use: 'sig', alg: 'RS256', ...(plan.omitKid ? {} : { kid: this.#kid }) }] });
    }
    if (url.pathname === this.tokenPath && req.method === 'POST') {
      if (this.dropTokenRequests) {
        req.socket.destroy();
        return;
      }
      this.tokenRequests += 1;
      const form = new URLSearchParams(await readBody(req));
      const authorization = this.#codes.get(form.get('code') ?? '');
      this.#codes.delete(form.get('code') ?? '');
      const challenge = createHash('sha256').update(form.get('code_verifier') ?? '').digest('base64url');
      if (!authorization || challenge !== authorization.codeChallenge || form.get('redirect_uri') !== authorization.redirectUri) {
        return json(400, { error: 'invalid_grant' });
      }
      if (this.tokenDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.tokenDelayMs));
      const now = Math.floor(Date.now() / 1000);
      const valid: JWTPayload = {
        iss: this.issuer,
        sub: 'hostile-user-1',
        aud: authorization.clientId,
        iat: now,
        exp: now + 300,
        nonce: authorization.nonce,
        email: 'eve@example.com',
        email_verified: true,
        ...(this.sid === undefined ? {} : { sid: this.sid }),
      };
      const plan = this.scenario(valid, { rogue: this.keys.rogue.privateKey });
      return json(200, { access_token: 'provider-at', token_type: 'Bearer', expires_in: 300, id_token: await this.idToken(plan) });
    }
    json(404, { error: 'not_found' });
  }

  private async idToken(plan: IdTokenPlan): Promise<string> {
    if (plan.unsigned) {
      const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
      return `${encode({ alg: 'none', typ: 'JWT' })}.${encode(plan.claims)}.`;
    }
    return new SignJWT(plan.claims)
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT', ...(plan.omitKid ? {} : { kid: this.#kid }) })
      .sign(plan.signWith ?? this.keys.signing.privateKey);
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => resolve(body));
    req.on('error', reject);
  });
}
