// The browser bundle of sign-in (sign-in, callback, refresh, sign-out and the calls they need),
// as an app's bundler makes it: esbuild --bundle --minify --format=esm --platform=browser, then gzip -9.
// Fails above the budget.
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const BUDGET = 5 * 1024;
const root = fileURLToPath(new URL('..', import.meta.url));

const result = await build({
  stdin: { contents: "export { createAuth } from './src/index.ts';", resolveDir: root, loader: 'ts' },
  bundle: true,
  minify: true,
  format: 'esm',
  platform: 'browser',
  write: false,
  metafile: true,
});
const code = result.outputFiles[0].contents;
const gzipped = gzipSync(code, { level: 9 }).length;
const [output] = Object.values(result.metafile.outputs);
const modules = Object.entries(output.inputs).flatMap(([path, { bytesInOutput }]) => (bytesInOutput > 0 && path !== '<stdin>' ? [`${path.replace(/^(\.\.\/)+/, '')} (${bytesInOutput})`] : []));
console.log(`sign-in bundle (createAuth): ${code.length} bytes minified, ${gzipped} bytes min+gzip; budget ${BUDGET}`);
console.log(`in it: ${modules.join(', ')}`);
if (gzipped > BUDGET) {
  console.error(`The sign-in bundle is ${gzipped - BUDGET} bytes over its budget of ${BUDGET} bytes min+gzip.`);
  process.exit(1);
}
