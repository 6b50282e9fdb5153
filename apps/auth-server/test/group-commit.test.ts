import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { sha256Hex } from '../src/ids.js';
import { problemCode, refresh, signIn, startHarness, type Harness } from './support/harness.js';

/**
 * The disk under SQLite's write-ahead log, as a test stands in for it:
 * syncs pass, are held until released, or fail. A power loss cannot be
 * caused in a test; what can be shown is that no answer leaves before the
 * sync that makes it durable has finished.
 */
const disk = {
  mode: 'pass' as 'pass' | 'hold' | 'fail',
  syncs: 0,
  held: [] as (() => void)[],
  sync(): Promise<void> {
    disk.syncs++;
    if (disk.mode === 'fail') return Promise.reject(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }));
    if (disk.mode === 'hold') return new Promise((resolve) => disk.held.push(resolve));
    return Promise.resolve();
  },
};

let h: Harness;

beforeAll(async () => {
  h = await startHarness({ syncLog: () => disk.sync() });
}, 30_000);

afterAll(async () => {
  disk.mode = 'pass';
  for (const release of disk.held) release();
  await h?.close().catch(() => undefined);
});

const answeredWithin = async (response: Promise<Response>, ms: number) =>
  Promise.race([response.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), ms))]);

describe('group commit: no answer before its commit is on disk', () => {
  test('When the disk has not yet confirmed a rotation, then the refresh is not answered until it has', async () => {
    const grant = await signIn(h);
    disk.mode = 'hold';
    const syncsBefore = disk.syncs;
    const answer = refresh(h, grant.refresh_token);
    expect(await answeredWithin(answer, 300)).toBe(false);
    expect(disk.syncs).toBe(syncsBefore + 1);
    disk.mode = 'pass';
    for (const release of disk.held.splice(0)) release();
    const response = await answer;
    expect(response.status).toBe(200);
  });

  test('When many refreshes commit while one sync runs, then they are answered after the next sync, and all share it', async () => {
    const grants = await Promise.all([1, 2, 3, 4, 5, 6].map(() => signIn(h)));
    disk.mode = 'hold';
    const first = refresh(h, grants[0]!.refresh_token);
    await expect.poll(() => disk.held.length).toBe(1);
    const rest = grants.slice(1).map((grant) => refresh(h, grant.refresh_token));
    // Committed while the first sync runs: none is answered by it.
    await new Promise((resolve) => setTimeout(resolve, 300));
    disk.held.shift()!();
    expect((await first).status).toBe(200);
    expect(await answeredWithin(Promise.race(rest), 100)).toBe(false);
    // One more sync covers all five.
    await expect.poll(() => disk.held.length).toBe(1);
    disk.mode = 'pass';
    disk.held.shift()!();
    expect((await Promise.all(rest)).map((response) => response.status)).toEqual([200, 200, 200, 200, 200]);
  });

  test('When the log cannot be synced, then the refresh answers 503 service_unavailable, later writes are refused before they commit, and the instance is no longer ready', async () => {
    const grant = await signIn(h);
    const later = await signIn(h);
    disk.mode = 'fail';
    const response = await refresh(h, grant.refresh_token);
    expect(response.status).toBe(503);
    expect(await problemCode(response)).toBe('service_unavailable');
    expect(JSON.stringify(h.logs)).toContain('SQLITE_IOERR_FSYNC');
    // A refresh after the failure writes nothing: its token is still the current one.
    expect((await refresh(h, later.refresh_token)).status).toBe(503);
    expect((await h.server.store.findRefreshTokenByHash('alpha', sha256Hex(later.refresh_token)))?.retiredAt).toBeNull();
    const ready = await fetch(`${h.url}/readyz`);
    expect(ready.status).toBe(503);
    // A later sync that would succeed proves nothing about the pages the failed one lost.
    disk.mode = 'pass';
    expect((await fetch(`${h.url}/readyz`)).status).toBe(503);
  });
});
