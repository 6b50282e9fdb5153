import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const tsx = require.resolve('tsx');
const main = fileURLToPath(new URL('../../src/main.ts', import.meta.url));

export interface RunningDemo {
  /** What it printed so far. */
  output(): string;
  /** Stops it with SIGTERM, as Ctrl-C does, and waits until it has exited. */
  stop(): Promise<void>;
}

/**
 * Starts the demo as `pnpm start` (or, with `--mock`, `pnpm demo --mock`) does, from its source, with `env`
 * over this process's; resolves once it says it serves the React app, the last it starts.
 */
export async function startDemo(args: string[], env: Record<string, string>): Promise<RunningDemo> {
  const child = spawn(process.execPath, ['--import', tsx, main, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  for (const stream of [child.stdout, child.stderr]) stream.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    child.kill('SIGTERM');
    await exited;
  };
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`not ready:\n${output}`)), 30_000);
      child.stdout.on('data', () => {
        if (output.includes('the same app in React')) {
          clearTimeout(timer);
          resolve();
        }
      });
      void exited.then(() => reject(new Error(`exited:\n${output}`)));
    });
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  return { output: () => output, stop };
}

