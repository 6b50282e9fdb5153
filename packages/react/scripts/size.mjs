// What this package adds to an app's browser bundle on top of the client: the bundle of createAuth with
// AuthProvider, useAuth, SignedIn and SignedOut, less the bundle of createAuth alone, each made as an app's
// bundler makes it (esbuild --bundle --minify --format=esm --platform=browser, then gzip -9). React is the
// app's own, so it is left out of both. Fails above the budget.
// The client comes from its dist/: build it first (`pnpm build` does).
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = fileURLToPath(new URL('..', import.meta.url));
const BUDGET = 1.5 * 1024;
const CLIENT = "export { createAuth } from '@aimable/auth-client';";
const BINDINGS = "export { AuthProvider, useAuth, SignedIn, SignedOut } from './src/index.ts';";

async function measure(contents) {
  const result = await build({
    stdin: { contents, resolveDir: root, loader: 'ts' },
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    external: ['react', 'react/*', 'react-dom', 'react-dom/*'],
    write: false,
  });
  const code = result.outputFiles[0].contents;
  return { minified: code.length, gzipped: gzipSync(code, { level: 9 }).length };
}

const client = await measure(CLIENT);
const both = await measure(`${CLIENT}\n${BINDINGS}`);
const added = both.gzipped - client.gzipped;
console.log(`createAuth: ${client.minified} bytes minified, ${client.gzipped} bytes min+gzip`);
console.log(`createAuth with the React bindings: ${both.minified} bytes minified, ${both.gzipped} bytes min+gzip`);
console.log(`the React bindings add ${both.minified - client.minified} bytes minified, ${added} bytes min+gzip; budget ${BUDGET}`);
if (added > BUDGET) {
  console.error(`The React bindings are ${added - BUDGET} bytes over their budget of ${BUDGET} bytes min+gzip on top of the client.`);
  process.exit(1);
}
