import { randomUUID } from 'node:crypto';
import { chmodSync, chownSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { openStore } from './open.js';
import { POOL_DEFAULTS } from './postgres.js';

let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const silent = { onConnectionError: () => {}, onBackgroundError: () => {} };

/** Opens the SQLite store in `dataDir` as the server does, and writes to it so that its log exists. */
async function openAndWrite(dataDir: string) {
  const { store, runtime } = await openStore({ databaseUrl: undefined, pool: POOL_DEFAULTS, migrateOnStart: true, databaseFile: join(dataDir, 'auth.sqlite') }, silent);
  await store.insertAuditEvent({ id: `aud_${randomUUID().replaceAll('-', '')}`, tenantId: 't', type: 'login', at: 1, requestId: null, sessionId: null, userId: null, clientAddress: null });
  await runtime.settle();
  return store;
}

const modeOf = (path: string) => statSync(path).mode & 0o777;

describe('the SQLite files', () => {
  test('When the server creates its database, then the directory is 0700 and the database, its log and shared memory are 0600, whatever the umask', async () => {
    dir = mkdtempSync(join(tmpdir(), 'aimable-files-'));
    const data = join(dir, 'data');
    const previous = process.umask(0o022);
    try {
      const store = await openAndWrite(data);
      expect(modeOf(data)).toBe(0o700);
      for (const file of ['auth.sqlite', 'auth.sqlite-wal', 'auth.sqlite-shm']) expect(modeOf(join(data, file)), file).toBe(0o600);
      await store.close();
    } finally {
      process.umask(previous);
    }
  });

  test('When the database file or its log can be read by others, then the start is refused, naming the file and the chmod that fixes it', async () => {
    dir = mkdtempSync(join(tmpdir(), 'aimable-files-'));
    const refused = async (path: string) => {
      chmodSync(path, 0o644);
      await expect(openAndWrite(dir)).rejects.toThrow(`${path} is readable or writable by others (mode 644), and it holds the server's keys and sessions: run chmod 600 ${path}`);
      chmodSync(path, 0o600);
    };
    await (await openAndWrite(dir)).close();
    await refused(join(dir, 'auth.sqlite'));
    // Readable by the group only is readable by others too.
    chmodSync(join(dir, 'auth.sqlite'), 0o640);
    await expect(openAndWrite(dir)).rejects.toThrow('(mode 640)');
    chmodSync(join(dir, 'auth.sqlite'), 0o600);
    // The log is removed at a clean close: it is there while another process has the database open.
    const running = await openAndWrite(dir);
    await refused(join(dir, 'auth.sqlite-wal'));
    await running.close();
  });

  test('When an existing data directory of the server user is open to others, then it is made private', async () => {
    dir = mkdtempSync(join(tmpdir(), 'aimable-files-'));
    chmodSync(dir, 0o755);
    await (await openAndWrite(dir)).close();
    expect(modeOf(dir)).toBe(0o700);
  });

  test("When the data directory belongs to another user and others can read it, then the start is refused; when it is closed to them, it is used as it is", async () => {
    // As root, a directory given to another user; otherwise the shared temporary directory, which belongs to root.
    const root = process.getuid?.() === 0;
    dir = mkdtempSync(join(tmpdir(), 'aimable-files-'));
    const volume = root ? dir : tmpdir();
    if (root) {
      chmodSync(volume, 0o755);
      chownSync(volume, 65_534, 65_534);
    }
    await expect(openAndWrite(volume)).rejects.toThrow(`the data directory ${volume} belongs to another user and is open to others (mode ${modeOf(volume).toString(8)})`);
    await expect(openAndWrite(volume)).rejects.toThrow(`run chmod 700 ${volume}, or set AUTH_DATA_DIR to a directory of its own inside it`);
    expect(statSync(volume).mode & 0o777).toBe(root ? 0o755 : modeOf(volume));
    if (root) {
      chmodSync(volume, 0o700);
      await (await openAndWrite(volume)).close();
      expect(modeOf(volume)).toBe(0o700);
    }
  });

  test('When the database file belongs to another user, then the start is refused, naming the chown that fixes it', async () => {
    // Only root can give a file away, and only a server running as root could open it then.
    expect(process.getuid?.(), 'this test gives a file to another user: run it as root').toBe(0);
    dir = mkdtempSync(join(tmpdir(), 'aimable-files-'));
    await (await openAndWrite(dir)).close();
    const path = join(dir, 'auth.sqlite');
    chownSync(path, 65_534, 65_534);
    await expect(openAndWrite(dir)).rejects.toThrow(`${path} belongs to another user (uid 65534), who can read the server's keys and sessions in it: run chown 0 ${path}`);
  });
});
