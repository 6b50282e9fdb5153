import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A throwaway PostgreSQL for the benchmark, when Debian's `postgresql` binaries are installed; undefined otherwise. */
export function startPostgres(port: number): { url: string; stop(): void } | undefined {
  const root = '/usr/lib/postgresql';
  const version = existsSync(root) ? readdirSync(root).find((v) => existsSync(join(root, v, 'bin', 'initdb'))) : undefined;
  if (!version) return undefined;
  const bin = join(root, version, 'bin');
  const dir = mkdtempSync(join(tmpdir(), 'aimable-bench-pg-'));
  const uid = process.getuid?.() === 0 ? Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' })) : undefined;
  if (uid !== undefined) chownSync(dir, uid, Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' })));
  const run = (command: string, args: string[]) => {
    const result = spawnSync(join(bin, command), args, { encoding: 'utf8', cwd: dir, ...(uid !== undefined ? { uid } : {}) });
    if (result.status !== 0) throw new Error(`${command}: ${result.stderr}`);
  };
  run('initdb', ['-D', join(dir, 'data'), '-U', 'postgres', '--auth=trust', '--no-instructions']);
  // Durable commits, as production: fsync and synchronous_commit stay on.
  run('pg_ctl', ['-D', join(dir, 'data'), '-l', join(dir, 'log'), '-w', '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1`, 'start']);
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    stop() {
      spawnSync(join(bin, 'pg_ctl'), ['-D', join(dir, 'data'), '-m', 'fast', 'stop'], { cwd: dir, ...(uid !== undefined ? { uid } : {}) });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
