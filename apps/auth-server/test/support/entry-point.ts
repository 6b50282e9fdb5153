import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';

const tsx = createRequire(import.meta.url).resolve('tsx');

/** What a run of an entry point left: its exit code and what it printed. */
export interface EntryPointRun {
  code: number | null;
  out: string;
  err: string;
}

/** Runs one of the server's entry points from its TypeScript source (through tsx), as its command runs, to the end. */
export async function runEntryPoint(entry: string, args: string[], env: Record<string, string | undefined>): Promise<EntryPointRun> {
  const child = spawn(process.execPath, ['--import', tsx, entry, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { code, out, err };
}
