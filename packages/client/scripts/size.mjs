// The browser bundles of sign-in, as an app's bundler makes them: esbuild --bundle --minify --format=esm
// --platform=browser, then gzip -9. Fails when one is above its budget.
// - createAuth alone: sign-in, callback, refresh, sign-out and the generated operations they call.
// - createAuth with the whole generated SDK: every operation and the generated fetch client they run on.
// The SDK comes from @aimable/auth-openapi's dist/: build it first (`pnpm build` does).
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = fileURLToPath(new URL('..', import.meta.url));
const bundles = [
  { name: 'createAuth', budget: 5 * 1024, contents: "export { createAuth } from './src/index.ts';" },
  {
    name: 'createAuth with the whole generated SDK',
    // 8 KiB until the contract gained the form post callback and back-channel logout (operations only providers
    // call, which every generated SDK carries) and sign-out at the provider: 8079 → 8322 bytes.
    budget: 8.5 * 1024,
    contents: "export { createAuth } from './src/index.ts'; export * from '@aimable/auth-openapi/sdk'; export * from '@aimable/auth-openapi/fetch-client';",
  },
];

let over = false;
for (const { name, budget, contents } of bundles) {
  const result = await build({
    stdin: { contents, resolveDir: root, loader: 'ts' },
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
  console.log(`${name}: ${code.length} bytes minified, ${gzipped} bytes min+gzip; budget ${budget}`);
  console.log(`in it: ${modules.join(', ')}`);
  if (gzipped > budget) {
    console.error(`The bundle of ${name} is ${gzipped - budget} bytes over its budget of ${budget} bytes min+gzip.`);
    over = true;
  }
}
if (over) process.exit(1);
