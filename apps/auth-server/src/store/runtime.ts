import type { AuthStore } from './auth-store.js';

/** How busy a database connection pool is. */
export interface PoolStats {
  total: number;
  idle: number;
  /** Requests waiting for a connection. */
  waiting: number;
  max: number;
}

/** What SQLite's checkpoint worker did so far: for operators and tests. */
export interface CheckpointStats {
  passive: number;
  restart: number;
  /** True once the worker failed and SQLite checkpoints in the commits again. */
  failed: boolean;
}

/**
 * The store's machinery as the server runs it, beside what the services
 * ask of it (`AuthStore`): what the server waits for before it answers, and
 * what metrics show.
 */
export interface StoreRuntime {
  /**
   * Resolves when everything committed so far is durable: awaited before
   * every answer. At once on PostgreSQL, whose commit is durable when it
   * returns; on SQLite, after the group commit's sync of the log.
   */
  readonly settle: () => Promise<void>;
  /** The connection pool's use; absent for a database without a pool (SQLite). */
  readonly poolStats?: () => PoolStats;
  /** SQLite's checkpoint worker, and the frames at which the connection checkpoints by itself (0: it does not); absent where there is none. */
  readonly checkpoints?: () => CheckpointStats & { automaticFrames: number };
}

/** A store as it was opened: what the services use, the runtime beside it, and the migrations this open applied. */
export interface OpenedStore {
  store: AuthStore;
  runtime: StoreRuntime;
  applied: readonly string[];
}

/** Requests that wait for a connection while the pool holds all it may and none is idle; 0 otherwise, or without a pool. */
export function requestsWaitingForConnection(runtime: StoreRuntime): number {
  const pool = runtime.poolStats?.();
  return pool && pool.idle === 0 && pool.total >= pool.max ? pool.waiting : 0;
}
