import { createHash } from 'node:crypto';
import type { AuthStore } from '../store/auth-store.js';
import type { NewAuditEvent } from '../store/schema.js';

/** Repeated events of one kind are one row per this window, on the clock's minute marks. */
export const REPEAT_WINDOW_MS = 60_000;

/**
 * Clients of one kind of event with a row of their own, per window; the
 * others of that window share one row, which names no client. Whoever
 * holds many addresses (a /48 of IPv6, or forged `X-Forwarded-For` behind a
 * proxy trusted with `true`) adds one row a minute, not one per address.
 */
export const CLIENT_ROWS_PER_WINDOW = 20;

/** Rows counted here at most: past it (the database has not taken writes for long), new ones are only counted in metrics. */
export const MAX_COUNTED_ROWS = 10_000;

interface Counted {
  row: NewAuditEvent & { count: number };
  /** Repeats counted here since the row was last written to. */
  unwritten: number;
  windowEndsAt: number;
}

/** What became of an event: its minute's row written (here), counted into a row, or not kept (only metrics count it). */
export type Counting = 'first' | 'repeat' | 'dropped';

/**
 * Events that anyone can repeat at will, such as a public key's refusals,
 * counted rather than written one by one: at most one row per kind and
 * client a minute, whose `count` says how many there were, and at most
 * `CLIENT_ROWS_PER_WINDOW` clients' rows per kind and minute. The first of
 * a row is written at once, so that it is in the log as soon as it
 * happened; the rest are added to its row by `flush`, in one write per row.
 * The row's id comes from the kind, the client and the minute, so that
 * every instance counts into the same row.
 */
export class RepeatedEvents {
  readonly #counted = new Map<string, Counted>();
  /** Per kind and window: the clients with a row of their own. */
  readonly #clients = new Map<string, { clients: Set<string>; windowEndsAt: number }>();
  #flushing: Promise<FlushResult> | undefined;

  constructor(private readonly store: Pick<AuthStore, 'countAuditEvent'>) {}

  /** Counts an event of `kind` (what makes two events the same, but for the client) from `client`. */
  async count(kind: string, client: string, event: Omit<NewAuditEvent, 'id' | 'count'>): Promise<Counting> {
    const window = Math.floor(event.at / REPEAT_WINDOW_MS);
    const windowEndsAt = (window + 1) * REPEAT_WINDOW_MS;
    const kindKey = `${window}\n${kind}`;
    let seen = this.#clients.get(kindKey);
    if (!seen) {
      seen = { clients: new Set(), windowEndsAt };
      this.#clients.set(kindKey, seen);
    }
    const own = seen.clients.has(client) || seen.clients.size < CLIENT_ROWS_PER_WINDOW;
    if (own) seen.clients.add(client);
    const id = `aud_${createHash('sha256')
      .update(`${kindKey}\n${own ? `client ${client}` : 'many clients'}`)
      .digest('hex')
      .slice(0, 32)}`;
    const counted = this.#counted.get(id);
    if (counted) {
      counted.unwritten += 1;
      return 'repeat';
    }
    if (this.#counted.size >= MAX_COUNTED_ROWS) return 'dropped';
    const row = { ...event, ...(own ? {} : { clientAddress: null, requestId: null, clientRequestId: null }), id, count: 1 };
    const entry: Counted = { row, unwritten: 0, windowEndsAt };
    this.#counted.set(id, entry);
    try {
      await this.store.countAuditEvent(row);
    } catch (error) {
      // Not written: counted again at the next flush.
      entry.unwritten += 1;
      throw error;
    }
    return 'first';
  }

  /**
   * Adds what was counted since the last flush to each row, and forgets the
   * rows whose minute is over. A row that could not be written keeps its
   * count for the next flush. One flush at a time: a call while one runs
   * waits for it.
   */
  flush(now: number): Promise<FlushResult> {
    this.#flushing ??= this.#flush(now).finally(() => (this.#flushing = undefined));
    return this.#flushing;
  }

  async #flush(now: number): Promise<FlushResult> {
    const added: FlushResult['added'] = [];
    const failed: unknown[] = [];
    for (const [id, counted] of this.#counted) {
      const count = counted.unwritten;
      if (count > 0) {
        counted.unwritten = 0;
        try {
          await this.store.countAuditEvent({ ...counted.row, count });
          added.push({ row: counted.row, count });
        } catch (error) {
          counted.unwritten += count;
          failed.push(error);
          // The database did not take it: the rest would fail alike, and wait for the next flush.
          break;
        }
      }
      if (now >= counted.windowEndsAt && counted.unwritten === 0) this.#counted.delete(id);
    }
    for (const [key, seen] of this.#clients) if (now >= seen.windowEndsAt) this.#clients.delete(key);
    return { added, failed };
  }
}

export interface FlushResult {
  added: { row: NewAuditEvent; count: number }[];
  failed: unknown[];
}
