import type { Logger } from 'pino';
import { describeError } from '../logging/logger.js';
import type { Metrics } from '../metrics/metrics.js';
import { storageFailureCode } from './unavailable.js';

/**
 * Whether the database's storage takes writes: told of every storage
 * failure (a full disk, a failing or read-only one), it says so once in
 * the log, at error level, with where the data lives, and counts the rest
 * in metrics. Readiness asks it, and tries a write of its own while it is
 * failing: the first that succeeds ends the failure, without a restart.
 */
export class StorageHealth {
  #failing: { since: number; code: string } | undefined;

  constructor(
    /** Where the data lives, as the operator finds it: the SQLite file, or "the PostgreSQL database". */
    private readonly location: string,
    private readonly logger: Logger,
    private readonly metrics: Metrics,
    private readonly now: () => number,
  ) {}

  /** True while writes fail for want of space, or on a read-only or failing disk. */
  get failing(): boolean {
    return this.#failing !== undefined;
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
    }
    return true;
  }

  /** A write succeeded: a failure, if there was one, is over. */
  recovered(): void {
    if (this.#failing === undefined) return;
    this.logger.info({ location: this.location, failing_ms: this.now() - this.#failing.since }, `writes to ${this.location} succeed again`);
    this.#failing = undefined;
    this.metrics.storageFailing(false);
  }
}
