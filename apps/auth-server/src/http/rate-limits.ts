import { ApiProblem } from '@aimable/auth-server-kit';
import type { Request } from 'express';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';

export type RateLimitedOperation = 'start' | 'session' | 'refresh';

export interface RateLimit {
  /** Requests allowed per window, per client address. */
  points: number;
  durationSeconds: number;
}

/** Per-address limits on the operations worth abusing: login start, session creation and refresh. */
export class RateLimits {
  readonly #limiters: Record<RateLimitedOperation, RateLimiterMemory>;

  constructor(limits: Record<RateLimitedOperation, RateLimit>) {
    const limiter = (limit: RateLimit) => new RateLimiterMemory({ points: limit.points, duration: limit.durationSeconds });
    this.#limiters = { start: limiter(limits.start), session: limiter(limits.session), refresh: limiter(limits.refresh) };
  }

  /** Counts the request, or throws 429 `rate_limited` with `Retry-After`. */
  async consume(operation: RateLimitedOperation, req: Request): Promise<void> {
    try {
      await this.#limiters[operation].consume(req.ip ?? req.socket.remoteAddress ?? 'unknown');
    } catch (error) {
      if (!(error instanceof RateLimiterRes)) throw error;
      throw new ApiProblem({
        status: 429,
        code: 'rate_limited',
        detail: 'Too many requests. Retry after the time in Retry-After.',
        headers: { 'Retry-After': String(Math.max(1, Math.ceil(error.msBeforeNext / 1000))) },
      });
    }
  }
}
