import { ApiProblem } from '@aimable/auth-server-kit';
import type { Clock } from '../clock.js';
import type { SessionPolicy, TenantConfig } from '../tenants/tenant.js';
import { newId, randomSecret, sha256Hex } from '../ids.js';
import type { RedeemableLogin } from '../login/login-service.js';
import type { ProviderClients } from '../oidc/provider-client.js';
import type { AuthStore, StoreOperations } from '../store/auth-store.js';
import { accessTokenRejected, loginRejected, loginStateInvalid, refreshRejected } from '../problems.js';
import type { RefreshTokenRecord, SessionRecord, UserRecord } from '../store/schema.js';
import type { AccessTokens, VerifiedAccessToken } from '../tokens/access-tokens.js';
import type { Sealing } from '../tokens/sealing.js';
import type { TenantRegistry } from '../tenants/tenant-registry.js';
import type { RequestOrigin } from '../request-origin.js';

/** A grant as issued: an access token, the session and user it is for, and the refresh token that continues it. */
export interface IssuedGrant {
  accessToken: string;
  /** Seconds until the access token expires. */
  expiresIn: number;
  session: SessionRecord;
  user: UserRecord;
  refreshToken: string;
  refreshTokenId: string;
  /** Seconds until the session's absolute end: the refresh cookie's lifetime. */
  refreshTokenMaxAge: number;
  sameSite: SessionPolicy['cookieSameSite'];
}

/** Runs inside the transaction that issues a grant, so that what it writes commits with it. */
export type WithinIssue = (tx: StoreOperations, issued: IssuedGrant) => Promise<void>;

export interface CreateSession {
  /** The checked login state (`LoginService.requireRedeemableLogin`). */
  login: RedeemableLogin;
  code: string;
  state: string;
  /** The request that creates it, for the audit log. */
  origin?: RequestOrigin;
}

/** Where a refresh token came from, and where its successor goes: an HttpOnly cookie, or the JSON body. */
export type RefreshChannel = 'cookie' | 'body';

/** What a created session's stored answer is replayed on: it is current while the session lives and its first token is unused. */
export interface CreationGuard {
  sessionId: string;
  refreshTokenId: string;
}

/** What a session event names: never a token. */
export interface SessionEvent {
  tenantId: string;
  sessionId: string;
  userId: string;
  /** The request it happened in. */
  origin?: RequestOrigin | undefined;
}

/**
 * Security events for operators. Each is told once what it is about has
 * committed, and is awaited before the request is answered; a hook must
 * not throw (what it writes is not worth failing the request for).
 */
export interface SessionEvents {
  /** A login became a session: told last inside the transaction that makes it, so that what it writes commits with it. */
  created(event: SessionEvent, tx: StoreOperations): Promise<void> | void;
  /** A refresh token was rotated: told last inside the rotation's transaction. */
  refreshed(event: SessionEvent & { channel: RefreshChannel }, tx: StoreOperations): Promise<void> | void;
  /** A retired token was answered with its grant again, within the grace window. */
  graceReplay(event: { tenantId: string; sessionId: string; channel: RefreshChannel; origin?: RequestOrigin | undefined }): void;
  /** A retired token was presented after the window, or on another channel: the session was revoked. */
  reuseDetected(event: SessionEvent & { channel: RefreshChannel }): Promise<void> | void;
  /** The session's user logged out, or revoked it from the list of their sessions, or the provider signed them out. */
  ended(event: SessionEvent & { by: 'logout' | 'session_revoked' | 'provider_logout' }): Promise<void> | void;
}

/** The grant a rotation answered, kept sealed for its grace window with the channel it went out on. */
interface GraceGrant {
  issued: IssuedGrant;
  channel: RefreshChannel;
}

/** A grace grant as the previous release sealed it: the response body it answered, with the channel it went out on. */
interface PreviousGraceGrant {
  issued: Omit<IssuedGrant, 'accessToken' | 'expiresIn' | 'session' | 'user'> & { grant: { access_token: string; expires_in: number } };
  channel: RefreshChannel;
}

/** Where a page of sessions starts: after the session created at `createdAt` with this id. */
export interface SessionPosition {
  createdAt: number;
  id: string;
}

export interface Authenticated {
  tenant: TenantConfig;
  session: SessionRecord;
  user: UserRecord;
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
    private readonly sealer: Sealing,
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
    if (!state) throw loginStateInvalid();

    const provider = this.tenants.findProvider(tenant, state.providerId);
    if (!provider) throw loginRejected('invalid_grant', 'The identity provider of this login is no longer configured.');
    let identity;
    let keepsIdToken: boolean;
    try {
      const configuration = await this.providers.configuration(tenant.id, provider);
      // Kept only for the provider's end-session request: a provider without one gets none kept.
      keepsIdToken = this.providers.announcesEndSession(configuration);
      identity = await this.providers.exchangeCode(configuration, provider, {
        redirectUri: this.callbackUrl(provider.id),
        code: request.code,
        state: request.state,
        pkceVerifier: state.pkceVerifier,
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
    const sessionId = newId('ses');
    const sealedIdToken = keepsIdToken && identity.idToken !== null ? this.sealer.seal(identity.idToken, idTokenSealedFor(sessionId)) : undefined;
    const issued = await this.store.transaction(async (tx) => {
      const user = await tx.upsertUser({
        id: newId('usr'),
        tenantId: tenant.id,
        issuer: identity.issuer,
        subject: identity.subject,
        email: identity.email,
        emailVerified: identity.emailVerified,
        // The provider's own word first; else the name its callback gave (Apple's, which its ID token never carries).
        name: identity.name ?? state.name ?? null,
        picture: identity.picture,
        createdAt: now,
        updatedAt: now,
      });
      const expiresAt = now + policy.absoluteLifetimeSeconds * 1000;
      const session: SessionRecord = {
        id: sessionId,
        tenantId: tenant.id,
        userId: user.id,
        providerId: provider.id,
        createdAt: now,
        lastRefreshedAt: now,
        expiresAt,
        idleExpiresAt: Math.min(expiresAt, now + policy.idleTimeoutSeconds * 1000),
        revokedAt: null,
        revokedReason: null,
        providerSid: identity.sid,
      };
      await tx.insertSession(session);
      if (sealedIdToken !== undefined) await tx.insertSessionIdToken({ sessionId, tenantId: tenant.id, idToken: sealedIdToken });
      // The user's id is known only now (a returning user keeps theirs): this grant is signed inside the transaction.
      const { issued, record } = await this.#grant(tenant, session, user, now);
      await tx.insertRefreshToken(record);
      await withinIssue?.(tx, issued);
      await this.events.created({ tenantId: tenant.id, sessionId: issued.session.id, userId: issued.user.id, origin: request.origin }, tx);
      return issued;
    });
    return issued;
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
    hooks: { beforeRotate?: () => Promise<void>; withinIssue?: WithinIssue; origin?: RequestOrigin } = {},
  ): Promise<IssuedGrant> {
    const { withinIssue, origin } = hooks;
    const { token, session, user, now } = await this.requirePresentedToken(tenant, refreshToken);
    if (token.retiredAt === null) {
      await hooks.beforeRotate?.();
      let rotated: IssuedGrant | undefined;
      try {
        rotated = await this.#rotate(tenant, session, user, token, now, channel, withinIssue, origin);
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
      if (rotated) return rotated;
    }
    const forgiven = await this.#forgivenGrant(tenant, token.id, now, channel);
    if (!forgiven) return this.#revokeForReuse(tenant, session, now, channel, origin);
    // The grace window hands the live token to whoever holds the old one: every use is logged.
    this.events.graceReplay({ tenantId: tenant.id, sessionId: session.id, channel, origin });
    if (withinIssue) await this.store.transaction((tx) => withinIssue(tx, forgiven));
    return forgiven;
  }

  /**
   * Checks a refresh that is about to be answered by an idempotent replay:
   * the replay must not outlive what the token itself may do. A live
   * session, and a token that is current or the forgiven immediate parent
   * within the grace window; otherwise it is a reuse.
   */
  async assertReplayable(tenant: TenantConfig, refreshToken: string, channel: RefreshChannel, origin?: RequestOrigin): Promise<void> {
    const { token, session, now } = await this.requirePresentedToken(tenant, refreshToken);
    if (token.retiredAt === null || (await this.#forgivenGrant(tenant, token.id, now, channel))) return;
    await this.#revokeForReuse(tenant, session, now, channel, origin);
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
    const current = session && session.revokedAt === null && now < endsAt(session) && token?.retiredAt === null;
    if (!current) throw loginRejected('invalid_state', 'This login was already redeemed, and its session has since been refreshed or has ended.');
  }

  /**
   * The presented token and its live session, for the tenant of the API
   * key; or the 401 that says why not. Another tenant's token is not found
   * at all: it answers exactly as an unknown one.
   */
  async requirePresentedToken(tenant: TenantConfig, refreshToken: string): Promise<{ token: RefreshTokenRecord; session: SessionRecord; user: UserRecord; now: number }> {
    const token = await this.store.findRefreshTokenByHash(tenant.id, sha256Hex(refreshToken));
    if (!token) throw invalidRefreshToken();
    // With its user, in one read: a session whose user is gone is not found.
    const found = await this.store.findSessionWithUser(tenant.id, token.sessionId);
    if (!found) throw invalidRefreshToken();
    const { session, user } = found;
    const now = this.clock.now();
    this.#assertLive(session, now);
    return { token, session, user, now };
  }

  async #rotate(
    tenant: TenantConfig,
    session: SessionRecord,
    user: UserRecord,
    token: RefreshTokenRecord,
    now: number,
    channel: RefreshChannel,
    withinIssue: WithinIssue | undefined,
    origin: RequestOrigin | undefined,
  ): Promise<IssuedGrant> {
    const idleExpiresAt = Math.min(session.expiresAt, now + tenant.sessionPolicy.idleTimeoutSeconds * 1000);
    const refreshed: SessionRecord = { ...session, lastRefreshedAt: now, idleExpiresAt };
    // Signed and sealed before the transaction opens: it then holds the store only for its statements.
    const { issued, record } = await this.#grant(tenant, refreshed, user, now);
    const grace: GraceGrant = { issued, channel };
    // Kept, encrypted, for the grace window only: a concurrent refresh on the same channel gets this same grant.
    const graceGrant = this.sealer.seal(JSON.stringify(grace), token.id);
    return this.store.transaction(async (tx) => {
      if (!(await tx.touchSession(tenant.id, session.id, now, idleExpiresAt))) throw new SessionEnded();
      await tx.insertRefreshToken(record);
      const retired = await tx.retireRefreshToken(tenant.id, token.id, {
        retiredAt: now,
        replacedBy: record.id,
        graceGrant,
        graceExpiresAt: now + tenant.sessionPolicy.refreshReuseGraceSeconds * 1000,
      });
      if (!retired) throw new RotationLost();
      await withinIssue?.(tx, issued);
      await this.events.refreshed({ tenantId: tenant.id, sessionId: session.id, userId: session.userId, channel, origin }, tx);
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
    if (!token?.graceGrant || token.graceExpiresAt === null || now >= token.graceExpiresAt || !token.replacedBy) return undefined;
    const successor = await this.store.findRefreshToken(tenant.id, token.replacedBy);
    if (!successor || successor.retiredAt !== null) return undefined;
    const grace = JSON.parse(await this.sealer.open(token.graceGrant, token.id)) as GraceGrant | PreviousGraceGrant;
    if (grace.channel !== channel) return undefined;
    return 'grant' in grace.issued ? this.#fromPrevious(tenant, token, grace.issued) : grace.issued;
  }

  /** A grace grant of the previous release still within its window after an upgrade: with its session and user as they are now. */
  async #fromPrevious(tenant: TenantConfig, token: RefreshTokenRecord, previous: PreviousGraceGrant['issued']): Promise<IssuedGrant | undefined> {
    const session = await this.store.findSession(tenant.id, token.sessionId);
    const user = session && (await this.store.findUser(tenant.id, session.userId));
    if (!session || !user) return undefined;
    const { grant, ...rest } = previous;
    return { accessToken: grant.access_token, expiresIn: grant.expires_in, session, user, ...rest };
  }

  /** RFC 9700 §4.14.2: a retired token presented again means it leaked; end the whole session. */
  async #revokeForReuse(tenant: TenantConfig, session: SessionRecord, now: number, channel: RefreshChannel, origin: RequestOrigin | undefined): Promise<never> {
    if (await this.store.revokeSession(tenant.id, session.id, 'refresh_token_reused', now)) {
      await this.events.reuseDetected({ tenantId: tenant.id, sessionId: session.id, userId: session.userId, channel, origin });
    }
    throw refreshRejected('refresh_token_reused', 'A retired refresh token was presented; the session has been revoked.');
  }

  /** A new grant for the session, and the record of its refresh token, which the caller stores. */
  async #grant(tenant: TenantConfig, session: SessionRecord, user: UserRecord, now: number): Promise<{ issued: IssuedGrant; record: RefreshTokenRecord }> {
    // 256 random bits; only its hash is stored.
    const refreshToken = `rt_${randomSecret(32)}`;
    const record: RefreshTokenRecord = {
      id: newId('rtk'),
      tenantId: tenant.id,
      sessionId: session.id,
      tokenHash: sha256Hex(refreshToken),
      createdAt: now,
      retiredAt: null,
      replacedBy: null,
      graceGrant: null,
      graceExpiresAt: null,
    };
    const policy = tenant.sessionPolicy;
    const accessToken = await this.accessTokens.issue({ userId: user.id, sessionId: session.id, tenantId: tenant.id }, now, policy.accessTokenTtlSeconds);
    const issued: IssuedGrant = {
      accessToken,
      expiresIn: policy.accessTokenTtlSeconds,
      session,
      user,
      refreshToken,
      refreshTokenId: record.id,
      refreshTokenMaxAge: Math.max(0, Math.floor((session.expiresAt - now) / 1000)),
      sameSite: policy.cookieSameSite,
    };
    return { issued, record };
  }

  #assertLive(session: SessionRecord, now: number): void {
    if (session.revokedAt !== null) {
      if (session.revokedReason === 'refresh_token_reused') throw refreshRejected('refresh_token_reused', 'The session was revoked after a refresh token was reused.');
      throw invalidRefreshToken();
    }
    if (now >= endsAt(session)) throw refreshRejected('session_expired', 'The session has expired. Sign in again.');
  }

  /** The live session and user of a verified access token, or 401 `invalid_access_token`. */
  async authenticate(claims: VerifiedAccessToken | undefined): Promise<Authenticated> {
    const now = this.clock.now();
    const tenant = claims && this.tenants.find(claims.tenantId);
    const found = claims && tenant ? await this.store.findSessionWithUser(tenant.id, claims.sessionId) : undefined;
    if (!tenant || !found) throw accessTokenRejected();
    const { session, user } = found;
    if (session.revokedAt !== null || now >= endsAt(session) || session.userId !== claims?.userId) throw accessTokenRejected();
    return { tenant, session, user };
  }

  async logout(auth: Authenticated, origin?: RequestOrigin): Promise<void> {
    if (await this.store.revokeSession(auth.tenant.id, auth.session.id, 'logout', this.clock.now())) {
      await this.events.ended({ tenantId: auth.tenant.id, sessionId: auth.session.id, userId: auth.user.id, by: 'logout', origin });
    }
  }

  /** Revokes one of the user's sessions; false when the user has no such session. */
  async revoke(auth: Authenticated, sessionId: string, origin?: RequestOrigin): Promise<boolean> {
    const session = await this.store.findSession(auth.tenant.id, sessionId);
    if (!session || session.userId !== auth.user.id) return false;
    if (await this.store.revokeSession(auth.tenant.id, session.id, 'revoked', this.clock.now())) {
      await this.events.ended({ tenantId: auth.tenant.id, sessionId: session.id, userId: auth.user.id, by: 'session_revoked', origin });
    }
    return true;
  }

  /** A page of the user's active sessions, newest first, after the given one. */
  async list(auth: Authenticated, limit: number, after?: SessionPosition): Promise<{ sessions: SessionRecord[]; more: boolean }> {
    const rows = await this.store.listActiveSessions(auth.tenant.id, auth.user.id, this.clock.now(), { limit: limit + 1, after });
    return { sessions: rows.slice(0, limit), more: rows.length > limit };
  }
}

/** What a session's sealed ID token is bound to: it opens for that session only. */
export function idTokenSealedFor(sessionId: string): string {
  return `${sessionId}\u0000id_token`;
}

/** When a session ends unless revoked earlier: its idle end or its absolute end, whichever comes first. */
function endsAt(session: SessionRecord): number {
  return Math.min(session.expiresAt, session.idleExpiresAt);
}

function invalidRefreshToken(): Error {
  return refreshRejected('invalid_refresh_token', 'The refresh token is missing, unknown or no longer valid.');
}
