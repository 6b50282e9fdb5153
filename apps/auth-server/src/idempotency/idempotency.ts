import { ApiProblem, problemDocument } from '@aimable/auth-server-kit';
import type { Clock } from '../clock.js';
import { sha256Hex } from '../ids.js';
import type { AuthStore, IdempotencyKeyRef, IdempotencyScope, StoreOperations } from '../store/auth-store.js';
import type { IdempotencyRecord } from '../store/schema.js';
import type { Sealing } from '../tokens/sealing.js';
import { idempotencyKeyInUse, idempotencyKeyReused } from '../problems.js';

/** A response as stored for replay. */
export interface StoredResponse {
  status: number;
  headers: Record<string, string | string[]>;
  body: unknown;
  /**
   * What the replay must still be true of, for the operation to check
   * before it answers the stored response again (for a created session:
   * its id and its first refresh token's).
   */
  guard?: unknown;
}

export interface IdempotencyTiming {
  /** How long a completed response is kept and replayed (24 hours). */
  retentionSeconds: number;
  /** How long an in-flight claim holds before it is presumed abandoned by a crashed process. */
  lockSeconds: number;
}

/** Stores the response in the transaction that produced it, so that both commit or neither. */
export type RecordResponse = (tx: StoreOperations, response: StoredResponse) => Promise<void>;

/** A request that carries an `Idempotency-Key`. */
export interface IdempotentRequest<R> {
  /** The operation, what only the caller holds, and the key. */
  ref: IdempotencyKeyRef;
  /** The request's fingerprint (`requestFingerprint`). */
  fingerprint: string;
  /**
   * Runs when the key is new, before anything is stored: the checks that
   * refuse a request outright (and are not replayed). Returns the tenant the
   * record belongs to.
   */
  admit(): Promise<string>;
  /**
   * Runs before a stored response is answered again: throws the problem to
   * answer instead when what it granted is no longer current.
   */
  assertReplayable(stored: StoredResponse, tenantId: string): Promise<void>;
  /** Does the work, once; stores its response through `record` in the transaction that produced it. */
  run(record: RecordResponse): Promise<R>;
  /** For a 4xx that is stored: the request id and path its problem document names. */
  problem: { requestId: string; instance: string };
}

/**
 * The Idempotency-Key protocol of the IETF httpapi draft, with Stripe's
 * behaviour where the draft is silent. A key is scoped to its operation
 * and to what only its caller holds, bound to a fingerprint of the request,
 * and its response is kept sealed (it holds tokens) for 24 hours. A
 * completed response is replayed only while it is still current; a 4xx
 * is stored and replayed too, but for a refusal that says "not now" (a
 * rate limit); that, a 5xx or a crash releases the key, so that a retry
 * runs again.
 */
export class Idempotency {
  constructor(
    private readonly store: AuthStore,
    private readonly sealer: Sealing,
    private readonly clock: Clock,
    private readonly timing: IdempotencyTiming,
    /** Told of every stored answer replayed, for metrics. */
    private readonly onReplay: (tenantId: string, operation: string) => void = () => undefined,
  ) {}

  async handle<R>(request: IdempotentRequest<R>): Promise<R> {
    const { ref, fingerprint } = request;
    const existing = await this.store.findIdempotencyRecord(ref, this.clock.now());
    // A claim abandoned by a crashed process is taken over below, atomically, like a new key.
    const abandoned = existing?.status === 'in_flight' && existing.fingerprint === fingerprint && existing.lockedUntil <= this.clock.now();
    if (existing && !abandoned) return this.#answerExisting(request, existing);

    // Nothing is stored for a request refused outright.
    const tenantId = await request.admit();
    const scope: IdempotencyScope = { ...ref, tenantId };
    const now = this.clock.now();
    const claimed = await this.store.transaction((tx) =>
      tx.claimIdempotencyKey(scope, fingerprint, now, { retentionMs: this.timing.retentionSeconds * 1000, lockMs: this.timing.lockSeconds * 1000 }),
    );
    // Another request may have taken the key while this one was admitted.
    if (claimed.kind === 'completed') return this.#answerExisting(request, claimed.record);
    if (claimed.kind === 'mismatch') throw idempotencyKeyReused();
    if (claimed.kind === 'in_flight') throw idempotencyKeyInUse(IN_FLIGHT_RETRY_AFTER_SECONDS);
    try {
      return await request.run((tx, response) => tx.completeIdempotencyKey(ref, response.status, this.#seal(ref, response)));
    } catch (error) {
      if (error instanceof ApiProblem && error.status < 500 && !UNSTORED_REFUSAL_STATUSES.has(error.status)) {
        const body = problemDocument(error, request.problem.requestId, request.problem.instance);
        await this.store.completeIdempotencyKey(ref, error.status, this.#seal(ref, { status: error.status, headers: error.headers, body }));
      } else {
        await this.store.releaseIdempotencyKey(ref);
      }
      throw error;
    }
  }

  async #answerExisting<R>(request: IdempotentRequest<R>, record: IdempotencyRecord): Promise<R> {
    if (record.fingerprint !== request.fingerprint) throw idempotencyKeyReused();
    if (record.status !== 'completed') throw idempotencyKeyInUse(IN_FLIGHT_RETRY_AFTER_SECONDS);
    const stored = JSON.parse(await this.sealer.open(record.response ?? '', scopeText(request.ref))) as StoredResponse;
    await request.assertReplayable(stored, record.tenantId);
    this.onReplay(record.tenantId, request.ref.operation);
    const { status, headers, body } = stored;
    return { status, body, headers: { ...headers, 'Idempotent-Replayed': 'true' } } as R;
  }

  #seal(ref: IdempotencyKeyRef, response: StoredResponse): string {
    return this.sealer.seal(JSON.stringify(response), scopeText(ref));
  }
}

/** Refusals that say "not now" rather than "no": never stored, so that a retry with the key runs again. */
const UNSTORED_REFUSAL_STATUSES = new Set([408, 409, 425, 429]);

/** A request with the same key is usually done within a second. */
const IN_FLIGHT_RETRY_AFTER_SECONDS = 1;

/** The request fingerprint: method, route and canonical JSON body, plus any credential the replay must be bound to. */
export function requestFingerprint(method: string, route: string, body: unknown, boundTo = ''): string {
  return sha256Hex(`${method.toUpperCase()} ${route}\n${canonicalJson(body ?? null)}\n${boundTo}`);
}

// Keys of one object are distinct: no two compare equal, so `<` and `<=` sort alike.
// Stryker disable next-line EqualityOperator: see above
const byKey = ([a]: [string, unknown], [b]: [string, unknown]): number => (a < b ? -1 : 1);

/** JSON with object keys sorted, so that key order does not change the fingerprint. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(byKey);
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The associated data of a sealed response: it opens only for its own key. */
function scopeText(ref: IdempotencyKeyRef): string {
  return `${ref.operation}\u0000${ref.subject}\u0000${ref.key}`;
}
