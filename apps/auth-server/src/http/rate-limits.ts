import { isIPv6 } from 'node:net';
import { ApiProblem } from '@aimable/auth-server-kit';
import type { Request, RequestHandler } from 'express';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';

export type RateLimitedOperation = 'start' | 'session' | 'refresh';

export interface RateLimit {
  /** Requests allowed per window, per client (an IPv4 address, or an IPv6 /64). */
  points: number;
  /** Requests allowed per window from all clients together. */
  globalPoints: number;
  durationSeconds: number;
}

/** Told once when requests arrive through a proxy the server does not trust. */
export type UntrustedProxyWarning = () => void;

/**
 * Limits on the operations worth abusing: login start, session creation
 * and refresh. Each counts per client and for everyone together, so that
 * clients spread over many addresses cannot grow the store without bound.
 */
export class RateLimits {
  readonly #perClient: Record<RateLimitedOperation, RateLimiterMemory>;
  readonly #global: Record<RateLimitedOperation, RateLimiterMemory>;
  #warned = false;

  constructor(
    limits: Record<RateLimitedOperation, RateLimit>,
    private readonly options: { trustsProxy: boolean; warnUntrustedProxy: UntrustedProxyWarning },
  ) {
    const each = (points: (limit: RateLimit) => number) => {
      const make = (limit: RateLimit) => new RateLimiterMemory({ points: points(limit), duration: limit.durationSeconds });
      return { start: make(limits.start), session: make(limits.session), refresh: make(limits.refresh) };
    };
    this.#perClient = each((limit) => limit.points);
    this.#global = each((limit) => limit.globalPoints);
  }

  /** Middleware that counts each request of `operation` before anything else is done for it. */
  middleware(operation: RateLimitedOperation): RequestHandler {
    return async (req, _res, next) => {
      await this.consume(operation, req);
      next();
    };
  }

  /** Counts the request, or throws 429 `rate_limited` with `Retry-After`. */
  async consume(operation: RateLimitedOperation, req: Request): Promise<void> {
    if (!this.options.trustsProxy && !this.#warned && req.get('x-forwarded-for') !== undefined) {
      this.#warned = true;
      this.options.warnUntrustedProxy();
    }
    try {
      await this.#perClient[operation].consume(clientKey(req.ip ?? req.socket.remoteAddress ?? 'unknown'));
      await this.#global[operation].consume('all');
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

/**
 * Whom a request counts against: an IPv4 address, or the /64 of an IPv6
 * one, since a single subscriber usually holds a whole /64 and could
 * otherwise take a fresh address for every request.
 */
export function clientKey(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  if (mapped) return mapped;
  if (!isIPv6(address)) return address;
  return `${expandIPv6(address).slice(0, 4).join(':')}::/64`;
}

function expandIPv6(address: string): string[] {
  const [head = '', tail] = address.split('%', 1)[0]!.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const missing = tail === undefined ? 0 : 8 - left.length - right.length;
  return [...left, ...Array.from({ length: missing }, () => '0'), ...right].map((group) => group.toLowerCase().replace(/^0+(?=.)/, ''));
}
