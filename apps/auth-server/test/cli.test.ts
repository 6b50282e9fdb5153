/** `aimable-auth`, the command of the package installed from npm: each subcommand runs the entry point the repository's scripts run. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '@aimable/testing';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { runEntryPoint, type EntryPointRun } from './support/entry-point.js';

const cli = fileURLToPath(new URL('../src/cli.ts', import.meta.url));

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'aimable-cli-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function run(args: string[], env: Record<string, string> = {}): Promise<EntryPointRun> {
  return runEntryPoint(cli, args, { DATABASE_URL: '', AUTH_TENANTS_FILE: '', AUTH_DATA_DIR: dir, PORT: String(await freePort()), ...env });
}

describe('aimable-auth', () => {
  test('When serve runs without a tenants file, then it refuses to start as pnpm serve does, naming AUTH_TENANTS_FILE', async () => {
    const result = await run(['serve'], { AUTH_KEY_ENCRYPTION_SECRET: 'k'.repeat(32) });
    expect(result).toMatchObject({ code: 78, err: expect.stringContaining('AUTH_TENANTS_FILE must name the tenants file') });
  }, 60_000);

  test('When migrate and rotate-keys run, then they do what pnpm migrate and pnpm rotate-keys do, flags included', async () => {
    expect(await run(['migrate'], { AUTH_ALLOW_PLAINTEXT_KEYS: 'true' })).toMatchObject({ code: 0, out: expect.stringMatching(/applied 0001_initial/) });
    expect(await run(['rotate-keys', '--kind', 'signing'])).toMatchObject({ code: 0, out: expect.stringMatching(/signing key \S+ generation 2/) });
    expect(await run(['rotate-keys', '--kind', 'nothing'])).toMatchObject({ code: 78, err: expect.stringContaining('--kind must be signing, sealing or both') });
  }, 60_000);

  test('When the command is unknown or missing, then it prints the usage and exits 64; --help exits 0', async () => {
    expect(await run(['start'])).toMatchObject({ code: 64, err: expect.stringContaining('Unknown command: start') });
    expect(await run(['serve', '--port', '1'])).toMatchObject({ code: 64, err: expect.stringContaining('serve takes no arguments') });
    expect(await run([])).toMatchObject({ code: 64, out: expect.stringContaining('Usage: aimable-auth <command>') });
    expect(await run(['--help'])).toMatchObject({ code: 0, out: expect.stringContaining('rotate-keys') });
  }, 60_000);
});
