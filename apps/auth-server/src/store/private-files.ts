import { chmodSync, mkdirSync, statSync } from 'node:fs';
import { ConfigError } from '../config-error.js';

/*
 * The SQLite database holds the signing and sealing keys (in the clear
 * unless AUTH_KEY_ENCRYPTION_SECRET is set), the sealed session answers and
 * the refresh tokens' hashes: whoever reads its files can sign access tokens
 * and open what was sealed. So its directory and files MUST be readable by
 * the server's user only.
 */

/**
 * Makes the data directory private (0700) when the server's user owns it.
 * One that belongs to another user (a mounted volume) is used only if it is
 * already closed to others; otherwise the start is refused, saying how to
 * fix it.
 */
export function preparePrivateDataDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const { uid, mode } = statSync(dir);
  if (uid === process.getuid?.()) {
    chmodSync(dir, 0o700);
    return;
  }
  if ((mode & 0o077) !== 0) {
    throw new ConfigError([
      `the data directory ${dir} belongs to another user and is open to others (mode ${octal(mode)}), and the database in it holds the server's keys: ` +
        `run chmod 700 ${dir}, or set AUTH_DATA_DIR to a directory of its own inside it`,
    ]);
  }
}

/** Refuses a database whose file, write-ahead log or shared memory belongs to another user, or others may read or write. */
export function assertPrivateDatabaseFiles(file: string): void {
  for (const path of [file, `${file}-wal`, `${file}-shm`]) {
    let stats: { mode: number; uid: number };
    try {
      stats = statSync(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw error;
    }
    const { mode, uid } = stats;
    const user = process.getuid?.();
    if (user !== undefined && uid !== user) {
      throw new ConfigError([`${path} belongs to another user (uid ${uid}), who can read the server's keys and sessions in it: run chown ${user} ${path}, or run the server as that user`]);
    }
    if ((mode & 0o077) !== 0) {
      throw new ConfigError([`${path} is readable or writable by others (mode ${octal(mode)}), and it holds the server's keys and sessions: run chmod 600 ${path}`]);
    }
  }
}

/**
 * Runs `create` with the file mode creation mask 077, so that the files it
 * makes are the user's alone (0600). SQLite gives its write-ahead log and
 * shared memory the database file's own mode.
 */
export function createPrivately<T>(create: () => T): T {
  const previous = process.umask(0o077);
  try {
    return create();
  } finally {
    process.umask(previous);
  }
}

function octal(mode: number): string {
  return (mode & 0o777).toString(8).padStart(3, '0');
}
