import type { Request, RequestHandler } from 'express';
import type pg from 'pg';
import { RateLimiterMemory, RateLimiterPostgres, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { rateLimited } from '../problems.js';
import { clientKey } from '../request-origin.js';

/**
 * What the limits count: login start, session creation and refresh each on
 * its own, and `api`, every other operation that checks an API key or a
 * bearer token, together.
 */
export type RateLimitedOperation = 'start' | 'session' | 'refresh' | 'api';

/** The operations about to write something new, which are also capped for all clients together. */
export type WritingOperation = Exclude<RateLimitedOperation, 'api'>;

export interface ClientLimit {
  /** Requests allowed per window, per client (an IPv4 address, or an IPv6 /64). */
  points: number;
  durationSeconds: number;
}

export interface RateLimit extends ClientLimit {
  /** Requests allowed per window from all clients together. */
  globalPoints: number;
}

/** The limits of each operation: the writing ones also have a global cap. */
export type RateLimitSettings = Record<WritingOperation, RateLimit> & Record<'api', ClientLimit>;

/** Told once when requests arrive through a proxy the server does not trust. */
export type UntrustedProxyWarning = () => void;

/**
 * Limits on every operation that checks a credential: login start, session
 * creation, refresh, and the calls made with an API key or an access token.
 * Each counts per client, before anything else is done for the request, so
 * that neither guesses nor refusals (each of which may be audited) come
 * faster than the limit; and, for requests about to write, for everyone
 * together, so that clients spread over many addresses cannot grow the
 * store without bound. Only requests that passed every check count
 * globally: requests refused anyway cannot spend the global budget and
 * lock others out.
 */
export class RateLimits {
  readonly #perClient: Record<RateLimitedOperation, RateLimiterAbstract>;
  readonly #global: Record<WritingOperation, RateLimiterAbstract>;
  #warned = false;

  /**
   * With a PostgreSQL `pool`, the counters live in the database (table
   * `rate_limits`), so that the limits count across every instance
   * together; without, in this process's memory.
   */
  constructor(
    limits: RateLimitSettings,
    private readonly options: { trustsProxy: boolean; warnUntrustedProxy: UntrustedProxyWarning; pool?: pg.Pool | undefined },
  ) {
    const limiter = (keyPrefix: string, points: number, durationSeconds: number): RateLimiterAbstract => {
      const settings = { points, duration: durationSeconds, keyPrefix };
      return options.pool
        ? new RateLimiterPostgres({
            ...settings,
            storeClient: options.pool,
            storeType: 'pool',
            tableName: 'rate_limits',
            tableCreated: true,
            clearExpiredByTimeout: false,
            // A key over its limit is refused from memory until its window ends: a flood costs no database write.
            inMemoryBlockOnConsumed: settings.points + 1,
            // While the database does not answer, each instance counts on its own rather than refusing everyone.
            insuranceLimiter: new RateLimiterMemory(settings),
          })
        : new RateLimiterMemory(settings);
    };
    const perClient = (operation: RateLimitedOperation) => limiter(`${operation}:client`, limits[operation].points, limits[operation].durationSeconds);
    const global = (operation: WritingOperation) => limiter(`${operation}:global`, limits[operation].globalPoints, limits[operation].durationSeconds);
    this.#perClient = { start: perClient('start'), session: perClient('session'), refresh: perClient('refresh'), api: perClient('api') };
    this.#global = { start: global('start'), session: global('session'), refresh: global('refresh') };
  }

  /** Middleware that counts each request of `operation` against its client, before anything else is done for it. */
  middleware(operation: RateLimitedOperation): RequestHandler {
    return async (req, _res, next) => {
      await this.consumePerClient(operation, req);
      next();
    };
  }

  /** Counts the request against its client, or throws 429 `rate_limited` with `Retry-After`. */
  async consumePerClient(operation: RateLimitedOperation, req: Request): Promise<void> {
    if (!this.options.trustsProxy && !this.#warned && req.get('x-forwarded-for') !== undefined) {
      this.#warned = true;
      this.options.warnUntrustedProxy();
    }
    await refuseOver(this.#perClient[operation].consume(clientKey(req.ip ?? req.socket.remoteAddress ?? 'unknown')));
  }

  /** Counts a request that passed every check and is about to write against the global cap, or throws 429. */
  async consumeGlobal(operation: WritingOperation): Promise<void> {
    await refuseOver(this.#global[operation].consume('all'));
  }
}

async function refuseOver(consumed: Promise<RateLimiterRes>): Promise<void> {
  try {
    await consumed;
  } catch (error) {
    if (!(error instanceof RateLimiterRes)) throw error;
    throw rateLimited(Math.max(1, Math.ceil(error.msBeforeNext / 1000)));
  }
}
