import { createHash } from 'node:crypto';
import type { AuthStore } from '../store/auth-store.js';
import type { NewAuditEvent } from '../store/schema.js';

/** Repeated events of one kind are one row per this window, on the clock's minute marks. */
export const REPEAT_WINDOW_MS = 60_000;

interface Counted {
  row: NewAuditEvent & { count: number };
  /** Repeats counted here since the row was last written to. */
  unwritten: number;
  windowEndsAt: number;
}

/**
 * Events that anyone can repeat at will, such as a public key's refusals,
 * counted rather than written one by one: at most one row per kind (the
 * `repeatKey`) and minute, whose `count` says how many there were. The
 * first of a minute is written at once, so that it is in the log as soon
 * as it happened; the rest are added to its row by `flush`, in one write
 * per row. The row's id comes from the kind and the minute, so that every
 * instance counts into the same row.
 */
export class RepeatedEvents {
  readonly #counted = new Map<string, Counted>();

  constructor(private readonly store: Pick<AuthStore, 'countAuditEvent'>) {}

  /** Counts the event; `first` when it wrote the minute's row for its kind (here), `repeat` when it was only counted. */
  async count(repeatKey: string, event: Omit<NewAuditEvent, 'id' | 'count'>): Promise<'first' | 'repeat'> {
    const window = Math.floor(event.at / REPEAT_WINDOW_MS);
    const id = `aud_${createHash('sha256').update(`${window}\n${repeatKey}`).digest('hex').slice(0, 32)}`;
    const counted = this.#counted.get(id);
    if (counted) {
      counted.unwritten += 1;
      return 'repeat';
    }
    const row = { ...event, id, count: 1 };
    this.#counted.set(id, { row, unwritten: 0, windowEndsAt: (window + 1) * REPEAT_WINDOW_MS });
    try {
      await this.store.countAuditEvent(row);
    } catch (error) {
      // Not written: counted again at the next flush.
      this.#counted.get(id)!.unwritten += 1;
      throw error;
    }
    return 'first';
  }

  /**
   * Adds what was counted since the last flush to each row, and forgets the
   * rows whose minute is over. Returns what was added, per row; a row that
   * could not be written keeps its count for the next flush.
   */
  async flush(now: number): Promise<{ added: { row: NewAuditEvent; count: number }[]; failed: unknown[] }> {
    const added: { row: NewAuditEvent; count: number }[] = [];
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
        }
      }
      if (now >= counted.windowEndsAt && counted.unwritten === 0) this.#counted.delete(id);
    }
    return { added, failed };
  }
}
