import { ApiProblem } from '@aimable/auth-server-kit';
import type { Clock } from '../clock.js';
import { sha256Hex } from '../ids.js';
import type { AuthStore, IdempotencyScope, StoreOperations } from '../store/auth-store.js';
import type { Sealer } from '../tokens/sealing.js';

/** A response as stored for replay. */
export interface StoredResponse {
  status: number;
  headers: Record<string, string | string[]>;
  body: unknown;
}

export interface IdempotencyTiming {
  /** How long a completed response is kept and replayed (24 hours). */
  retentionSeconds: number;
  /** How long an in-flight claim holds before it is presumed abandoned by a crashed process. */
  lockSeconds: number;
}

/** The right to run a request once: complete it with its response, or release it. */
export interface IdempotencyClaim {
  /** Stores the response in the transaction that produced it. */
  complete(tx: StoreOperations, response: StoredResponse): Promise<void>;
  /** Stores a response that was produced without a transaction (a 4xx). */
  completeAlone(response: StoredResponse): Promise<void>;
  /** Forgets the claim, so that a retry runs the request again (5xx, crashes). */
  release(): Promise<void>;
}

export type IdempotencyStart = { kind: 'replay'; response: StoredResponse } | { kind: 'claimed'; claim: IdempotencyClaim };

/**
 * The Idempotency-Key semantics of the IETF httpapi draft, with Stripe's
 * behaviour where the draft is silent. Records are keyed by (tenant,
 * operation, key) and hold a fingerprint of the request; the stored
 * response is sealed because it holds tokens.
 */
export class Idempotency {
  constructor(
    private readonly store: AuthStore,
    private readonly sealer: Sealer,
    private readonly clock: Clock,
    private readonly timing: IdempotencyTiming,
  ) {}

  async start(scope: IdempotencyScope, fingerprint: string): Promise<IdempotencyStart> {
    const now = this.clock.now();
    const result = await this.store.transaction((tx) =>
      tx.claimIdempotencyKey(scope, fingerprint, now, {
        retentionMs: this.timing.retentionSeconds * 1000,
        lockMs: this.timing.lockSeconds * 1000,
      }),
    );
    const associatedData = scopeText(scope);
    switch (result.kind) {
      case 'claimed':
        return {
          kind: 'claimed',
          claim: {
            complete: (tx, response) => tx.completeIdempotencyKey(scope, response.status, this.sealer.seal(JSON.stringify(response), associatedData)),
            completeAlone: (response) => this.store.completeIdempotencyKey(scope, response.status, this.sealer.seal(JSON.stringify(response), associatedData)),
            release: () => this.store.releaseIdempotencyKey(scope),
          },
        };
      case 'completed':
        return { kind: 'replay', response: JSON.parse(this.sealer.open(result.record.response!, associatedData)) as StoredResponse };
      case 'mismatch':
        throw new ApiProblem({ status: 422, code: 'idempotency_key_reused', detail: 'This Idempotency-Key was used with a different request.' });
      case 'in_flight':
        throw new ApiProblem({
          status: 409,
          code: 'idempotency_key_in_use',
          detail: 'A request with this Idempotency-Key is still being processed. Retry later.',
          headers: { 'Retry-After': '1' },
        });
    }
  }
}

/** The request fingerprint: method, route and canonical JSON body, plus any credential the replay must be bound to. */
export function requestFingerprint(method: string, route: string, body: unknown, boundTo = ''): string {
  return sha256Hex(`${method.toUpperCase()} ${route}\n${canonicalJson(body ?? null)}\n${boundTo}`);
}

/** JSON with object keys sorted, so that key order does not change the fingerprint. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

function scopeText(scope: IdempotencyScope): string {
  return `${scope.tenantId}\u0000${scope.operation}\u0000${scope.key}`;
}
