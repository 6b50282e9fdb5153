import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { GroupCommit, LogSyncFailed, walSync } from './group-commit.js';
import { openSqliteStore } from './sqlite-store.js';

/** A sync that finishes when the test says so. */
function heldSyncs() {
  const pending: { resolve: () => void; reject: (error: Error) => void }[] = [];
  return {
    pending,
    sync: () => new Promise<void>((resolve, reject) => pending.push({ resolve, reject })),
  };
}

const settled = async (promise: Promise<unknown>) => {
  let done = false;
  void promise.then(() => (done = true), () => (done = true));
  await new Promise((resolve) => setImmediate(resolve));
  return done;
};

describe('group commit', () => {
  test('When nothing was written since the last sync, then settling waits for no sync', async () => {
    const held = heldSyncs();
    const commits = new GroupCommit(held.sync);
    await commits.settle();
    expect(held.pending).toHaveLength(0);
  });

  test('When commits land while a sync runs, then their answers wait for the next sync, which all of them share', async () => {
    const held = heldSyncs();
    const commits = new GroupCommit(held.sync);
    commits.wrote();
    const first = commits.settle();
    expect(held.pending).toHaveLength(1);
    // Three more commits while the first sync runs.
    const later = [1, 2, 3].map(() => {
      commits.wrote();
      return commits.settle();
    });
    held.pending[0]!.resolve();
    expect(await settled(first)).toBe(true);
    // The first sync began before they were written: it does not cover them.
    expect(await settled(Promise.race(later))).toBe(false);
    expect(held.pending).toHaveLength(2);
    held.pending[1]!.resolve();
    await Promise.all(later);
    expect(commits.syncs).toBe(2);
  });

  test('When a sync fails, then every answer waiting for it and every later one fails with LogSyncFailed, even if a later sync would succeed', async () => {
    const held = heldSyncs();
    const commits = new GroupCommit(held.sync);
    commits.wrote();
    const waiting = commits.settle();
    held.pending[0]!.reject(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }));
    await expect(waiting).rejects.toBeInstanceOf(LogSyncFailed);
    await expect(commits.settle()).rejects.toMatchObject({ code: 'SQLITE_IOERR_FSYNC' });
    expect(() => commits.assertHealthy()).toThrow(LogSyncFailed);
  });
});

describe('the SQLite store with group commit', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  test('When a write commits, then settling syncs the real write-ahead log once, and a read alone syncs nothing more', async () => {
    dir = mkdtempSync(join(tmpdir(), 'aimable-wal-'));
    let syncs = 0;
    const file = join(dir, 'auth.db');
    const log = walSync(file);
    const { store, runtime } = await openSqliteStore(file, { syncLog: async () => { syncs++; await log.sync(); } });
    try {
      await runtime.settle();
      const before = syncs;
      await store.insertAuditEvent({ id: 'aud_1', tenantId: 'alpha', type: 'login', at: 1, requestId: null, sessionId: null, userId: null, clientAddress: null });
      await runtime.settle();
      expect(syncs).toBe(before + 1);
      await store.countRows();
      await runtime.settle();
      expect(syncs).toBe(before + 1);
    } finally {
      await store.close();
      await log.close();
    }
  });

  test('When the database file is a symbolic link, then the log synced is the one SQLite writes, beside the file it points to', async () => {
    dir = mkdtempSync(join(tmpdir(), 'aimable-wal-'));
    mkdirSync(join(dir, 'real'));
    const target = join(dir, 'real', 'auth.db');
    const { store } = await openSqliteStore(target);
    await store.close();
    symlinkSync(target, join(dir, 'auth.db'));
    const { store: linked, runtime } = await openSqliteStore(join(dir, 'auth.db'));
    try {
      await linked.insertAuditEvent({ id: 'aud_2', tenantId: 'alpha', type: 'login', at: 2, requestId: null, sessionId: null, userId: null, clientAddress: null });
      await expect(runtime.settle()).resolves.toBeUndefined();
    } finally {
      await linked.close();
    }
  });
});
