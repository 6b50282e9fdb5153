import type { Logger } from 'pino';
import { describeError } from '../logging/logger.js';
import type { Metrics } from '../metrics/metrics.js';
import { storageFailureCode } from '../store/unavailable.js';

/** While writes fail, how often the storage is tried again when nothing asks. */
const PROBE_INTERVAL_MS = 5_000;
/** The least time between two tries, however many readiness checks ask. */
const PROBE_SPACING_MS = 1_000;

/**
 * Whether the database's storage takes writes: told of every storage
 * failure (a full disk, a failing or read-only one), it says so once in
 * the log, at error level, with where the data lives, and counts the rest
 * in metrics. While it fails, it tries a write of its own (`probe`) every
 * few seconds, one at a time, whoever asks (readiness, or its own timer
 * when nothing asks): the first that succeeds ends the failure, without a
 * restart.
 */
export class StorageHealth {
  #failing: { since: number; code: string } | undefined;
  #probing: Promise<boolean> | undefined;
  #probedAt = Number.NEGATIVE_INFINITY;
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(
    /** Where the data lives, as the operator finds it: the SQLite file, or "the PostgreSQL database". */
    private readonly location: string,
    private readonly logger: Logger,
    private readonly metrics: Metrics,
    private readonly now: () => number,
    /** A write of no meaning that needs room: whether the storage takes writes again. */
    private readonly probe: () => Promise<void>,
  ) {}

  /** True while writes fail for want of space, or on a read-only or failing disk. */
  get failing(): boolean {
    return this.#failing !== undefined;
  }

  /** The code of the failure, while there is one. */
  get failureCode(): string | undefined {
    return this.#failing?.code;
  }

  /** Takes note of an error if it is a storage failure; true when it was one. */
  observe(error: unknown): boolean {
    const code = storageFailureCode(error);
    if (code === undefined) return false;
    this.metrics.storageFailure(code);
    if (this.#failing === undefined) {
      this.#failing = { since: this.now(), code };
      this.metrics.storageFailing(true);
      this.logger.error(
        { location: this.location, error_code: code, error: describeError(error) },
        `writes to ${this.location} fail (${code}): its disk is full, failing or read-only. Requests that write answer 503 and /readyz is not ready until a write succeeds again; the rest of these failures are counted in auth_storage_failures_total`,
      );
      this.#timer = setInterval(() => void this.recheck(), PROBE_INTERVAL_MS);
      this.#timer.unref();
    }
    return true;
  }

  /**
   * While failing, whether the storage takes writes again: one probe at a
   * time, and no more than one a second, however many ask (readiness is
   * unauthenticated). Errors that are not storage failures (the
   * database busy or gone) are thrown.
   */
  async recheck(): Promise<boolean> {
    if (this.#failing === undefined) return true;
    if (this.#probing === undefined && this.now() - this.#probedAt >= PROBE_SPACING_MS) {
      this.#probedAt = this.now();
      this.#probing = this.probe()
        .then(
          () => {
            this.#recovered();
            return true;
          },
          (error: unknown) => {
            if (this.observe(error)) return false;
            throw error;
          },
        )
        .finally(() => (this.#probing = undefined));
    }
    return this.#probing ?? this.#failing === undefined;
  }

  /** Stops trying (at shutdown). */
  stop(): void {
    clearInterval(this.#timer);
  }

  #recovered(): void {
    if (this.#failing === undefined) return;
    clearInterval(this.#timer);
    this.logger.info({ location: this.location, failing_ms: this.now() - this.#failing.since }, `writes to ${this.location} succeed again`);
    this.#failing = undefined;
    this.metrics.storageFailing(false);
  }
}
