import { ApiProblem, type api } from '@aimable/auth-server-kit';
import type { Clock } from '../clock.js';
import type { SessionPolicy, TenantConfig } from '../tenants/tenant.js';
import { newId, randomSecret, sha256Hex } from '../ids.js';
import type { RedeemableLogin } from '../login/login-service.js';
import type { ProviderClients } from '../oidc/provider-client.js';
import type { AuthStore, StoreOperations } from '../store/auth-store.js';
import type { RefreshTokenRow, SessionRow, UserRow } from '../store/schema.js';
import type { AccessTokens, VerifiedAccessToken } from '../tokens/access-tokens.js';
import type { Sealer } from '../tokens/sealing.js';
import type { TenantRegistry } from '../tenants/tenant-registry.js';

/** A grant as issued: the response body without the refresh token, and the refresh token apart. */
export interface IssuedGrant {
  grant: Omit<api.SessionGrant, 'refresh_token'>;
  refreshToken: string;
  refreshTokenId: string;
  /** Seconds until the session's absolute end: the refresh cookie's lifetime. */
  refreshTokenMaxAge: number;
  sameSite: SessionPolicy['cookieSameSite'];
}

/** Runs inside the transaction that issues a grant, so that what it writes commits with it. */
export type WithinIssue = (tx: StoreOperations, issued: IssuedGrant) => Promise<void>;

export interface CreateSession {
  /** The checked login state (`LoginService.redeemable`). */
  login: RedeemableLogin;
  code: string;
  state: string;
}

/** Where a refresh token came from, and where its successor goes: an HttpOnly cookie, or the JSON body. */
export type RefreshChannel = 'cookie' | 'body';

/** What a created session's stored answer is replayed on: it is current while the session lives and its first token is unused. */
export interface CreationGuard {
  sessionId: string;
  refreshTokenId: string;
}

/** Security events for operators: each names the tenant and the session, never a token. */
export interface SessionEvents {
  /** A retired token was answered with its grant again, within the grace window. */
  graceReplay(event: { tenantId: string; sessionId: string; channel: RefreshChannel }): void;
  /** A retired token was presented after the window, or on another channel: the session was revoked. */
  reuseDetected(event: { tenantId: string; sessionId: string; channel: RefreshChannel }): void;
}

/** The grant a rotation answered, kept sealed for its grace window with the channel it went out on. */
interface GraceGrant {
  issued: IssuedGrant;
  channel: RefreshChannel;
}

export interface Authenticated {
  tenant: TenantConfig;
  session: SessionRow;
  user: UserRow;
}

/** Thrown inside a rotation transaction that lost the race for a token, to roll it back. */
class RotationLost extends Error {}

/** Thrown inside a rotation transaction whose session ended meanwhile, to roll it back. */
class SessionEnded extends Error {}

export class SessionService {
  constructor(
    private readonly store: AuthStore,
    private readonly tenants: TenantRegistry,
    private readonly providers: ProviderClients,
    private readonly accessTokens: AccessTokens,
    private readonly sealer: Sealer,
    private readonly clock: Clock,
    private readonly callbackUrl: (providerId: string) => string,
    private readonly events: SessionEvents,
  ) {}

  /**
   * Turns a checked login into a session: consumes the state, exchanges the
   * code and validates the ID token, then upserts the user and creates the
   * session in one transaction.
   */
  async create(request: CreateSession, withinIssue?: WithinIssue): Promise<IssuedGrant> {
    const { tenant, stateHash } = request.login;
    const consumedAt = this.clock.now();
    // Atomic and single-use: of two requests with one state, one wins; a replay is refused.
    const state = await this.store.consumeLoginState(stateHash, tenant.id, consumedAt);
    if (!state) throw new ApiProblem({ status: 401, code: 'invalid_state', detail: 'The login state is unknown, expired or already used.' });

    const provider = this.tenants.requireProvider(tenant, state.provider_id);
    let identity;
    try {
      const configuration = await this.providers.configuration(tenant.id, provider);
      identity = await this.providers.exchangeCode(configuration, {
        redirectUri: this.callbackUrl(provider.id),
        code: request.code,
        state: request.state,
        pkceVerifier: state.pkce_verifier,
        nonce: state.nonce,
      });
    } catch (error) {
      // The provider could not be reached: let a retry use the state again. (Had the code been spent after
      // all, the provider refuses it then, and the retry ends as a rejected login.)
      if (error instanceof ApiProblem && error.code === 'provider_unavailable') await this.store.restoreLoginState(stateHash, consumedAt);
      throw error;
    }

    const now = this.clock.now();
    const policy = tenant.sessionPolicy;
    return this.store.transaction(async (tx) => {
      const user = await tx.upsertUser({
        id: newId('usr'),
        tenant_id: tenant.id,
        issuer: identity.issuer,
        subject: identity.subject,
        email: identity.email,
        email_verified: identity.emailVerified ? 1 : 0,
        name: identity.name,
        picture: identity.picture,
        created_at: now,
        updated_at: now,
      });
      const expiresAt = now + policy.absoluteLifetimeSeconds * 1000;
      const session: SessionRow = {
        id: newId('ses'),
        tenant_id: tenant.id,
        user_id: user.id,
        provider_id: provider.id,
        created_at: now,
        last_refreshed_at: now,
        expires_at: expiresAt,
        idle_expires_at: Math.min(expiresAt, now + policy.idleTimeoutSeconds * 1000),
        revoked_at: null,
        revoked_reason: null,
      };
      await tx.insertSession(session);
      const issued = await this.#issue(tx, tenant, session, user, now);
      await withinIssue?.(tx, issued);
      return issued;
    });
  }

  /**
   * Rotates a refresh token (RFC 9700 §4.14.2) for the tenant whose API
   * key came with it. The presented token is retired and a new one issued.
   * Presenting the retired token again within the grace window, on the
   * channel it was used on, answers the identical grant; after the window,
   * or on the other channel, the whole session is revoked.
   */
  async refresh(
    tenant: TenantConfig,
    refreshToken: string,
    channel: RefreshChannel,
    hooks: { beforeRotate?: () => Promise<void>; withinIssue?: WithinIssue } = {},
  ): Promise<IssuedGrant> {
    const { withinIssue } = hooks;
    const { token, session, now } = await this.presented(tenant, refreshToken);
    if (token.retired_at === null) {
      await hooks.beforeRotate?.();
      try {
        return await this.#rotate(tenant, session, token, now, channel, withinIssue);
      } catch (error) {
        if (error instanceof SessionEnded) {
          // Revoked or expired while this refresh ran: answer as the end of the session.
          const ended = await this.store.findSession(tenant.id, session.id);
          if (ended) this.#assertLive(ended, now);
          throw invalidRefreshToken();
        }
        if (!(error instanceof RotationLost)) throw error;
        // A concurrent refresh rotated it first: answer as a reuse of a retired token.
      }
    }
    const forgiven = await this.#forgivenGrant(tenant, token.id, now, channel);
    if (!forgiven) return this.#revokeForReuse(tenant, session, now, channel);
    // The grace window hands the live token to whoever holds the old one: every use is logged.
    this.events.graceReplay({ tenantId: tenant.id, sessionId: session.id, channel });
    if (withinIssue) await this.store.transaction((tx) => withinIssue(tx, forgiven));
    return forgiven;
  }

  /**
   * Checks a refresh that is about to be answered by an idempotent replay:
   * the replay must not outlive what the token itself may do. A live
   * session, and a token that is current or the forgiven immediate parent
   * within the grace window; otherwise it is a reuse.
   */
  async assertReplayable(tenant: TenantConfig, refreshToken: string, channel: RefreshChannel): Promise<void> {
    const { token, session, now } = await this.presented(tenant, refreshToken);
    if (token.retired_at === null || (await this.#forgivenGrant(tenant, token.id, now, channel))) return;
    await this.#revokeForReuse(tenant, session, now, channel);
  }

  /**
   * Checks a session creation that is about to be answered by an
   * idempotent replay: its answer holds the session's first refresh token,
   * so it is replayed only while the session lives and that token is still
   * the current one. Otherwise 401 `invalid_state`: the login was redeemed.
   */
  async assertCreationReplayable(tenantId: string, guard: CreationGuard): Promise<void> {
    const now = this.clock.now();
    const session = await this.store.findSession(tenantId, guard.sessionId);
    const token = session && (await this.store.findRefreshToken(tenantId, guard.refreshTokenId));
    const current = session && session.revoked_at === null && now < endsAt(session) && token?.retired_at === null;
    if (!current) {
      throw new ApiProblem({ status: 401, code: 'invalid_state', detail: 'This login was already redeemed, and its session has since been refreshed or has ended.' });
    }
  }

  /**
   * The presented token and its live session, for the tenant of the API
   * key; or the 401 that says why not. Another tenant's token is not found
   * at all: it answers exactly as an unknown one.
   */
  async presented(tenant: TenantConfig, refreshToken: string): Promise<{ token: RefreshTokenRow; session: SessionRow; now: number }> {
    const token = await this.store.findRefreshTokenByHash(tenant.id, sha256Hex(refreshToken));
    if (!token) throw invalidRefreshToken();
    const session = await this.store.findSession(tenant.id, token.session_id);
    if (!session) throw invalidRefreshToken();
    const now = this.clock.now();
    this.#assertLive(session, now);
    return { token, session, now };
  }

  async #rotate(tenant: TenantConfig, session: SessionRow, token: RefreshTokenRow, now: number, channel: RefreshChannel, withinIssue?: WithinIssue): Promise<IssuedGrant> {
    const user = await this.store.findUser(tenant.id, session.user_id);
    if (!user) throw invalidRefreshToken();
    return this.store.transaction(async (tx) => {
      const idleExpiresAt = Math.min(session.expires_at, now + tenant.sessionPolicy.idleTimeoutSeconds * 1000);
      if (!(await tx.touchSession(tenant.id, session.id, now, idleExpiresAt))) throw new SessionEnded();
      const refreshed: SessionRow = { ...session, last_refreshed_at: now, idle_expires_at: idleExpiresAt };
      const successorId = newId('rtk');
      const issued = await this.#issue(tx, tenant, refreshed, user, now, successorId);
      const grace: GraceGrant = { issued, channel };
      const retired = await tx.retireRefreshToken(tenant.id, token.id, {
        retiredAt: now,
        replacedBy: successorId,
        // Kept, encrypted, for the grace window only: a concurrent refresh on the same channel gets this same grant.
        graceGrant: this.sealer.seal(JSON.stringify(grace), token.id),
        graceExpiresAt: now + tenant.sessionPolicy.refreshReuseGraceSeconds * 1000,
      });
      if (!retired) throw new RotationLost();
      await withinIssue?.(tx, issued);
      return issued;
    });
  }

  /**
   * The grant a retired token may still get: only the immediate parent of
   * the current token, within the grace window, and only on the channel the
   * grant went out on. A cookie-only token never comes back in a JSON body.
   */
  async #forgivenGrant(tenant: TenantConfig, tokenId: string, now: number, channel: RefreshChannel): Promise<IssuedGrant | undefined> {
    const token = await this.store.findRefreshToken(tenant.id, tokenId);
    if (!token?.grace_grant || token.grace_expires_at === null || now >= token.grace_expires_at || !token.replaced_by) return undefined;
    const successor = await this.store.findRefreshToken(tenant.id, token.replaced_by);
    if (!successor || successor.retired_at !== null) return undefined;
    const grace = JSON.parse(this.sealer.open(token.grace_grant, token.id)) as GraceGrant;
    return grace.channel === channel ? grace.issued : undefined;
  }

  /** RFC 9700 §4.14.2: a retired token presented again means it leaked; end the whole session. */
  async #revokeForReuse(tenant: TenantConfig, session: SessionRow, now: number, channel: RefreshChannel): Promise<never> {
    if (await this.store.revokeSession(tenant.id, session.id, 'refresh_token_reused', now)) {
      this.events.reuseDetected({ tenantId: tenant.id, sessionId: session.id, channel });
    }
    throw new ApiProblem({ status: 401, code: 'refresh_token_reused', detail: 'A retired refresh token was presented; the session has been revoked.' });
  }

  async #issue(tx: StoreOperations, tenant: TenantConfig, session: SessionRow, user: UserRow, now: number, tokenId = newId('rtk')): Promise<IssuedGrant> {
    // 256 random bits; only its hash is stored.
    const refreshToken = `rt_${randomSecret(32)}`;
    await tx.insertRefreshToken({
      id: tokenId,
      tenant_id: tenant.id,
      session_id: session.id,
      token_hash: sha256Hex(refreshToken),
      created_at: now,
      retired_at: null,
      replaced_by: null,
      grace_grant: null,
      grace_expires_at: null,
    });
    const policy = tenant.sessionPolicy;
    const accessToken = await this.accessTokens.issue({ userId: user.id, sessionId: session.id, tenantId: tenant.id }, now, policy.accessTokenTtlSeconds);
    return {
      grant: {
        access_token: accessToken,
        token_type: 'Bearer',
        expires_in: policy.accessTokenTtlSeconds,
        session: toSession(session),
        user: toUser(user),
      },
      refreshToken,
      refreshTokenId: tokenId,
      refreshTokenMaxAge: Math.max(0, Math.floor((session.expires_at - now) / 1000)),
      sameSite: policy.cookieSameSite,
    };
  }

  #assertLive(session: SessionRow, now: number): void {
    if (session.revoked_at !== null) {
      if (session.revoked_reason === 'refresh_token_reused') {
        throw new ApiProblem({ status: 401, code: 'refresh_token_reused', detail: 'The session was revoked after a refresh token was reused.' });
      }
      throw invalidRefreshToken();
    }
    if (now >= endsAt(session)) {
      throw new ApiProblem({ status: 401, code: 'session_expired', detail: 'The session has expired. Sign in again.' });
    }
  }

  /** The live session and user of a verified access token, or 401 `invalid_access_token`. */
  async authenticate(claims: VerifiedAccessToken | undefined): Promise<Authenticated> {
    const now = this.clock.now();
    const tenant = claims && this.tenants.find(claims.tenantId);
    const session = claims && tenant ? await this.store.findSession(tenant.id, claims.sessionId) : undefined;
    const live = session && session.revoked_at === null && now < endsAt(session) && session.user_id === claims?.userId;
    const user = live && tenant ? await this.store.findUser(tenant.id, session.user_id) : undefined;
    if (!tenant || !session || !user || !live) {
      throw new ApiProblem({
        status: 401,
        code: 'invalid_access_token',
        detail: 'The access token is missing, invalid or expired, or its session has ended.',
        headers: { 'WWW-Authenticate': 'Bearer error="invalid_token"' },
      });
    }
    return { tenant, session, user };
  }

  async logout(auth: Authenticated): Promise<void> {
    await this.store.revokeSession(auth.tenant.id, auth.session.id, 'logout', this.clock.now());
  }

  /** Revokes one of the user's sessions; false when the user has no such session. */
  async revoke(auth: Authenticated, sessionId: string): Promise<boolean> {
    const session = await this.store.findSession(auth.tenant.id, sessionId);
    if (!session || session.user_id !== auth.user.id) return false;
    await this.store.revokeSession(auth.tenant.id, session.id, 'revoked', this.clock.now());
    return true;
  }

  async list(auth: Authenticated, limit: number, cursor: string | undefined): Promise<api.SessionList> {
    const after = cursor === undefined ? undefined : decodeCursor(cursor);
    const rows = await this.store.listActiveSessions(auth.tenant.id, auth.user.id, this.clock.now(), { limit: limit + 1, after });
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return {
      data: page.map((row) => ({ ...toSession(row), current: row.id === auth.session.id })),
      next_cursor: rows.length > limit && last ? encodeCursor(last) : null,
    };
  }
}

export function toSession(row: SessionRow): api.Session {
  const iso = (ms: number) => new Date(ms).toISOString();
  return {
    id: row.id,
    provider: row.provider_id,
    created_at: iso(row.created_at),
    last_refreshed_at: iso(row.last_refreshed_at),
    expires_at: iso(row.expires_at),
    idle_expires_at: iso(row.idle_expires_at),
  };
}

export function toUser(row: UserRow): api.User {
  return { id: row.id, email: row.email, email_verified: row.email_verified === 1, name: row.name, picture: row.picture };
}

/** When a session ends unless revoked earlier: its idle end or its absolute end, whichever comes first. */
function endsAt(session: SessionRow): number {
  return Math.min(session.expires_at, session.idle_expires_at);
}

function invalidRefreshToken(): ApiProblem {
  return new ApiProblem({ status: 401, code: 'invalid_refresh_token', detail: 'The refresh token is missing, unknown or no longer valid.' });
}

function encodeCursor(row: SessionRow): string {
  return Buffer.from(JSON.stringify([row.created_at, row.id])).toString('base64url');
}

function decodeCursor(cursor: string): { createdAt: number; id: string } {
  try {
    const [createdAt, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    if (typeof createdAt === 'number' && typeof id === 'string') return { createdAt, id };
  } catch {
    // fall through
  }
  throw new ApiProblem({ status: 400, code: 'invalid_request', detail: 'query.cursor is not a cursor this API issued.', errors: [{ location: 'query.cursor', message: 'is invalid' }] });
}
