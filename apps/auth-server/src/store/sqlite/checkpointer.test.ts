import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import type { OpenedStore } from '../runtime.js';
import { openSqliteStore, type SqliteStoreOptions } from './sqlite-store.js';

const WRITES = 3_000;
/** Each write is its own commit of four pages (the audit table and its three indexes): 12,000 frames of log if nothing rewinds it. */
const UNBOUNDED_FRAMES = 4 * WRITES;

/**
 * The frames of the write-ahead log's current generation: those from its
 * start that carry the salt of its header. A rewound log is written again
 * from its start with a new salt; the file keeps its largest size.
 */
function liveFrames(file: string): number {
  const log = readFileSync(`${file}-wal`);
  if (log.length < 32) return 0;
  const pageSize = log.readUInt32BE(8);
  const salts = log.subarray(16, 24);
  let frames = 0;
  for (let at = 32; at + 24 + pageSize <= log.length; at += 24 + pageSize, frames++) {
    if (!log.subarray(at + 8, at + 16).equals(salts)) break;
  }
  return frames;
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'aimable-checkpoint-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const audit = (id: string, at: number) => ({ id, tenantId: 'alpha', type: 'session.refreshed', at, requestId: null, sessionId: null, userId: null, clientAddress: null });

/**
 * A few writes, then time for a first pass (which starts the worker), then
 * writes without a pause but for a turn of the event loop now and then, as
 * a busy server's: the log's longest generation meanwhile, in frames.
 */
async function writeSteadily({ store, runtime }: OpenedStore, file: string): Promise<number> {
  for (let i = 0; i < 10; i++) await store.insertAuditEvent(audit(`aud_warm_${i}`, i));
  await new Promise((resolve) => setTimeout(resolve, 300));
  let longest = 0;
  for (let i = 0; i < WRITES; i++) {
    await store.insertAuditEvent(audit(`aud_${i}`, i));
    if (i % 10 === 0) await new Promise((resolve) => setImmediate(resolve));
    if (i % 100 === 99) longest = Math.max(longest, liveFrames(file));
  }
  await runtime.settle();
  return longest;
}

/** Opens a store on `file` with these checkpoint settings, writes steadily, and closes it: the longest log, what the store told of its checkpoints, and the failures it reported. */
async function writeSteadilyWith(file: string, checkpoints: NonNullable<SqliteStoreOptions['checkpoints']>) {
  const errors: Error[] = [];
  const opened = await openSqliteStore(file, { checkpoints, onBackgroundError: (error) => errors.push(error) });
  try {
    const longest = await writeSteadily(opened, file);
    return { longest, stats: opened.runtime.checkpoints!(), errors };
  } finally {
    await opened.store.close();
  }
}

describe('checkpoints in a worker thread', () => {
  test('When writes go on without a pause, then the log is checkpointed and rewound beside them: it stays small, and every row is there after reopening', async () => {
    const file = join(dir, 'auth.sqlite');
    const { longest, stats, errors } = await writeSteadilyWith(file, { intervalMs: 5, restartFrames: 64 });
    expect(errors).toEqual([]);
    expect(longest).toBeGreaterThan(0);
    expect(longest).toBeLessThan(UNBOUNDED_FRAMES / 4);
    // The worker did it, not SQLite in the commits.
    expect(stats).toMatchObject({ failed: false, automaticFrames: 0 });
    expect(stats.passive).toBeGreaterThan(0);
    expect(stats.restart).toBeGreaterThan(0);

    const { store: reopened } = await openSqliteStore(file);
    try {
      const events = await reopened.listAuditEvents('alpha', { limit: WRITES + 100 });
      expect(events).toHaveLength(WRITES + 10);
    } finally {
      await reopened.close();
    }
  });

  test('When the checkpoint worker cannot start, then its failure is told once, SQLite checkpoints in the commits again, and the log stays small', async () => {
    const file = join(dir, 'auth.sqlite');
    const { longest, stats, errors } = await writeSteadilyWith(file, { intervalMs: 5, driver: join(dir, 'no-such-driver.cjs') });
    expect(stats).toMatchObject({ failed: true, automaticFrames: 1000 });
    expect(errors).toHaveLength(1);
    expect(errors[0]!.message).toMatch(/no-such-driver/);
    // SQLite's own checkpoint copies the log at 1,000 frames, and the next commit rewinds it.
    expect(longest).toBeGreaterThan(0);
    expect(longest).toBeLessThan(UNBOUNDED_FRAMES / 4);
  });

  test('When another connection (another process, say) keeps a read open, then the log is not rewound while it pins its frames (the store is not held waiting for it), and is once it ends', async () => {
    const file = join(dir, 'auth.sqlite');
    const opened = await openSqliteStore(file, { checkpoints: { intervalMs: 5, restartFrames: 64 } });
    const { store, runtime } = opened;
    const reader = new SqliteDatabase(file, { readonly: true });
    try {
      await store.insertAuditEvent(audit('aud_seen', 0));
      await runtime.settle();
      // A read transaction: it keeps the frames it may need from being copied over.
      reader.exec('BEGIN');
      reader.prepare('SELECT count(*) FROM audit_events').get();
      await writeSteadily(opened, file);
      const pinned = runtime.checkpoints!();
      expect(pinned.passive).toBeGreaterThan(0);
      expect(pinned.restart).toBe(0);

      reader.exec('COMMIT');
      for (let i = 0; i < 500; i++) {
        await store.insertAuditEvent(audit(`aud_after_${i}`, i));
        if (i % 10 === 0) await new Promise((resolve) => setTimeout(resolve, 1));
      }
      expect(runtime.checkpoints!().restart).toBeGreaterThan(0);
    } finally {
      reader.close();
      await store.close();
    }
  });

  test('When a checkpoint hangs, then after its time limit the worker is given up, its failure is told, and SQLite checkpoints in the commits again', async () => {
    const file = join(dir, 'auth.sqlite');
    // better-sqlite3 itself, but for a checkpoint that does not come back for a minute: a disk that stopped answering.
    const driver = join(dir, 'hanging-driver.cjs');
    writeFileSync(
      driver,
      `const Database = require(${JSON.stringify(createRequire(import.meta.url).resolve('better-sqlite3'))});
       module.exports = class extends Database {
         pragma(source, options) {
           if (source.startsWith('wal_checkpoint')) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60000);
           return super.pragma(source, options);
         }
       };`,
    );
    const errors: Error[] = [];
    const { store, runtime } = await openSqliteStore(file, { checkpoints: { intervalMs: 5, driver, callTimeoutMs: 200 }, onBackgroundError: (error) => errors.push(error) });
    try {
      await store.insertAuditEvent(audit('aud_1', 1));
      await expect.poll(() => errors.length, { timeout: 5_000 }).toBe(1);
      expect(errors[0]!.message).toMatch(/took longer than 200 ms/);
      expect(runtime.checkpoints!()).toMatchObject({ failed: true, automaticFrames: 1000 });
      // The store goes on.
      await store.insertAuditEvent(audit('aud_2', 2));
      await runtime.settle();
      expect(await store.listAuditEvents('alpha', { limit: 10 })).toHaveLength(2);
    } finally {
      await store.close();
    }
  });
});
