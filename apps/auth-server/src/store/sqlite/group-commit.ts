import { realpathSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { DurabilityLost } from '../unavailable.js';

/** Makes what was written to the log so far durable: `fdatasync` of SQLite's write-ahead log, in a test a stand-in. */
export type SyncLog = () => Promise<void>;

/** The log could not be made durable: what was committed since the last sync may not survive a power loss. */
export class LogSyncFailed extends DurabilityLost {
  /** SQLite's own name for a failed sync: the store's callers answer 503. */
  readonly code = 'SQLITE_IOERR_FSYNC';
  constructor(cause: unknown) {
    super('The write-ahead log could not be synced to disk; no further answer is given.', { cause });
    this.name = 'LogSyncFailed';
  }
}

interface Waiter {
  target: number;
  resolve: () => void;
  reject: (error: Error) => void;
}

/**
 * Group commit for SQLite in WAL mode. With `synchronous = NORMAL` a
 * commit writes its frames to the write-ahead log without `fsync`; this
 * syncs the log off the event loop, and no answer leaves before the sync
 * that covers every commit made before it: the same durability as
 * `synchronous = FULL` (an answered commit survives a power loss), paid
 * once per batch, never by the event loop.
 *
 * Every statement that may write counts (`wrote`). `settle()` resolves once
 * a sync begun after the latest count has finished. Commits that land
 * while a sync runs share the next one.
 *
 * A failed sync is final: the kernel may have dropped the pages it could
 * not write, so a later sync that succeeds proves nothing. Every later
 * `settle()` rejects with `LogSyncFailed`.
 */
export class GroupCommit {
  #written = 0;
  #synced = 0;
  #waiters: Waiter[] = [];
  #running: Promise<void> | undefined;
  #failure: LogSyncFailed | undefined;
  /** Syncs run, for metrics and tests. */
  syncs = 0;

  constructor(private readonly sync: SyncLog) {}

  /** A statement that may have written ran (or a transaction committed). */
  wrote(): void {
    this.#written++;
  }

  /** How many statements that may have written ran so far: it changes with every one. */
  get written(): number {
    return this.#written;
  }

  /** Resolves when every commit made so far is durable. */
  settle(): Promise<void> {
    if (this.#failure) return Promise.reject(this.#failure);
    const target = this.#written;
    if (target <= this.#synced) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.#waiters.push({ target, resolve, reject });
      this.#running ??= this.#drain();
    });
  }

  /** Throws once a sync has failed. */
  assertHealthy(): void {
    if (this.#failure) throw this.#failure;
  }

  async #drain(): Promise<void> {
    try {
      while (this.#waiters.length > 0) {
        // Whatever was written before the sync begins is covered by it.
        const target = this.#written;
        await this.sync();
        this.syncs++;
        this.#synced = target;
        const waiting = this.#waiters;
        this.#waiters = [];
        for (const waiter of waiting) {
          if (waiter.target <= target) waiter.resolve();
          else this.#waiters.push(waiter);
        }
      }
    } catch (error) {
      this.#failure = new LogSyncFailed(error);
      for (const waiter of this.#waiters) waiter.reject(this.#failure);
      this.#waiters = [];
    } finally {
      this.#running = undefined;
    }
  }
}

/**
 * `fdatasync` of the database's write-ahead log (`<file>-wal`, beside the
 * file a symbolic link points to, as SQLite puts it), through libuv's
 * thread pool. The log is opened at the first sync, when SQLite has created
 * it, and its directory is synced once so that the log's entry in it is
 * durable too. SQLite keeps the log (and so this descriptor's file) while
 * any connection is open: a checkpoint rewinds it and never unlinks it.
 */
export function walSync(databaseFile: string): { sync: SyncLog; close: () => Promise<void> } {
  let log: FileHandle | undefined;
  return {
    async sync() {
      if (!log) {
        const file = realpathSync(databaseFile);
        const opened = await open(`${file}-wal`, 'r+');
        try {
          const directory = await open(dirname(file), 'r');
          try {
            await directory.sync();
          } finally {
            await directory.close();
          }
        } catch (error) {
          await opened.close();
          throw error;
        }
        log = opened;
      }
      await log.datasync();
    },
    async close() {
      await log?.close();
      log = undefined;
    },
  };
}
