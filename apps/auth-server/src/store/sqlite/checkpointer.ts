import { realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { CheckpointStats } from '../runtime.js';

/** What SQLite's `PRAGMA wal_checkpoint` tells: whether it was kept from finishing, the log's frames, and those copied. */
export interface CheckpointResult {
  busy: number;
  log: number;
  checkpointed: number;
}

type Mode = 'PASSIVE' | 'RESTART';

export interface CheckpointerOptions {
  /** The database file, as the store opened it. */
  file: string;
  /** Runs `work` while the store's one connection is held: no statement of the store's runs meanwhile. */
  hold: <T>(work: () => Promise<T>) => Promise<T>;
  /** Statements that may have written, so far (`GroupCommit.written`): a pass runs only when it changed. */
  written: () => number;
  /** Hands checkpoints back to SQLite, on the store's connection: once this checkpointer has failed. */
  resumeAutomatic: () => void;
  /** Told once, when the checkpointer fails. */
  onError: (error: Error) => void;
  /** How often a pass may run (ms). */
  intervalMs?: number;
  /** A log at least this long is rewound under `hold` (frames; SQLite's automatic checkpoint copies at 1,000). */
  restartFrames?: number;
  /**
   * The module the worker opens the database with: the better-sqlite3 the
   * store uses. Only a test names another (a second copy of SQLite in one
   * process would not see the first one's POSIX locks).
   */
  driver?: string;
  /** How long a checkpoint may take before the worker is taken for hung (ms). */
  callTimeoutMs?: number;
}

/** The worker's module: beside this one, in src/ and in dist/ alike. */
const WORKER = new URL('./checkpoint-worker.cjs', import.meta.url);

const asError = (error: unknown): Error => (error instanceof Error ? error : new Error(String(error)));

/**
 * Checkpoints of SQLite's write-ahead log in a worker thread, so that the
 * event loop does not copy the log into the database nor wait for the
 * database file's `fsync`. SQLite's own checkpoint runs inside the commit
 * that crosses 1,000 frames: on this schema, one refresh in about eighty
 * stopped every request for several milliseconds.
 *
 * A pass runs when the store wrote since the last one:
 * - a PASSIVE checkpoint copies what is committed, alongside the store's
 *   reads and writes;
 * - when the log has grown to `restartFrames` and that checkpoint copied
 *   all of it (no other process's reader keeps frames back), a RESTART
 *   under `hold` copies the few frames committed since, while no statement
 *   runs, so that the next commit writes the log from its start. Under
 *   steady writes the log would otherwise never be all copied when a commit
 *   begins, and would grow without end. That next commit syncs the log's
 *   new header on the event loop, as after SQLite's own checkpoint.
 *
 * Durability is SQLite's: a checkpoint syncs the log before it copies
 * frames, and the database file before the log may be reused. If the
 * worker fails, or a checkpoint takes longer than `callTimeoutMs`, SQLite's
 * automatic checkpoint is turned back on and the failure is told once.
 */
export class Checkpointer {
  readonly #options: Required<CheckpointerOptions>;
  #worker: Worker | undefined;
  readonly #timer: NodeJS.Timeout;
  #pass: Promise<void> | undefined;
  #lastWritten: number;
  readonly #calls = new Map<number, { resolve: (result: CheckpointResult) => void; reject: (error: Error) => void; timeout: NodeJS.Timeout }>();
  #nextCall = 0;
  #failed = false;
  #closed = false;
  readonly #runs = { passive: 0, restart: 0 };

  constructor(options: CheckpointerOptions) {
    this.#options = {
      ...options,
      // The file itself, resolved now: the worker opens it later, whatever the working directory or a link says then.
      file: realpathSync(options.file),
      intervalMs: options.intervalMs ?? 100,
      restartFrames: options.restartFrames ?? 4_096,
      driver: options.driver ?? createRequire(import.meta.url).resolve('better-sqlite3'),
      callTimeoutMs: options.callTimeoutMs ?? 10_000,
    };
    this.#lastWritten = options.written();
    this.#timer = setInterval(() => {
      this.#pass ??= this.#run()
        .catch((error: unknown) => this.#fail(asError(error)))
        .finally(() => (this.#pass = undefined));
    }, this.#options.intervalMs);
    this.#timer.unref();
  }

  stats(): CheckpointStats {
    return { ...this.#runs, failed: this.#failed };
  }

  async #run(): Promise<void> {
    const written = this.#options.written();
    if (written === this.#lastWritten || this.#failed || this.#closed) return;
    this.#lastWritten = written;
    const { busy, log, checkpointed } = await this.#call('PASSIVE');
    // Frames another process's reader keeps back would keep the RESTART from finishing: not then.
    if (log >= this.#options.restartFrames && busy === 0 && checkpointed === log && !this.#closed) {
      await this.#options.hold(() => this.#call('RESTART'));
    }
  }

  #call(mode: Mode): Promise<CheckpointResult> {
    const worker = (this.#worker ??= this.#start());
    const id = this.#nextCall++;
    return new Promise<CheckpointResult>((resolve, reject) => {
      const timeout = setTimeout(() => this.#fail(new Error(`A ${mode} checkpoint of the write-ahead log took longer than ${this.#options.callTimeoutMs} ms.`)), this.#options.callTimeoutMs);
      timeout.unref();
      this.#calls.set(id, { resolve, reject, timeout });
      worker.postMessage({ id, mode });
    }).then((result) => {
      if (mode === 'PASSIVE') this.#runs.passive++;
      else this.#runs.restart++;
      return result;
    });
  }

  /** Started at the first pass: a store that is opened and closed without writing never starts a thread. */
  #start(): Worker {
    const worker = new Worker(WORKER, { workerData: { file: this.#options.file, driver: this.#options.driver } });
    worker.unref();
    worker.on('message', (message: { id: number; result?: CheckpointResult; error?: { message: string; code?: string } }) => {
      const call = this.#calls.get(message.id);
      if (!call) return;
      this.#calls.delete(message.id);
      clearTimeout(call.timeout);
      if (message.error) call.reject(Object.assign(new Error(`A checkpoint of the write-ahead log failed: ${message.error.message}`), { code: message.error.code }));
      else call.resolve(message.result!);
    });
    worker.on('error', (error) => this.#fail(error));
    worker.on('exit', (code) => {
      if (this.#worker === worker) this.#worker = undefined;
      const stopped = new Error(`The checkpoint worker stopped (exit code ${code}).`);
      this.#rejectCalls(stopped);
      this.#fail(stopped);
    });
    return worker;
  }

  #rejectCalls(error: Error): void {
    for (const call of this.#calls.values()) {
      clearTimeout(call.timeout);
      call.reject(error);
    }
    this.#calls.clear();
  }

  #fail(error: Error): void {
    if (this.#failed || this.#closed) return;
    this.#failed = true;
    clearInterval(this.#timer);
    this.#rejectCalls(error);
    void this.#worker?.terminate();
    let told = error;
    try {
      this.#options.resumeAutomatic();
    } catch (resumeError) {
      told = new AggregateError([error, resumeError], `${error.message} SQLite's own checkpoints could not be turned back on either.`);
    }
    try {
      this.#options.onError(told);
    } catch {
      // Whoever is told could not be: the store goes on either way.
    }
  }

  /**
   * Waits for a running pass, then closes the worker's connection. The
   * worker keeps the process alive until it has (it does not otherwise); one
   * that has not ended within `callTimeoutMs` is terminated.
   */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    await this.#pass;
    const worker = this.#worker;
    if (!worker) return;
    worker.ref();
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    worker.postMessage({ close: true });
    const overdue = setTimeout(() => void worker.terminate(), this.#options.callTimeoutMs);
    try {
      await exited;
    } finally {
      clearTimeout(overdue);
    }
  }
}
