#!/usr/bin/env node
// Generates a client of the contract with each third-party generator into
// gen/ (ignored by git), then compiles the small programs in src/ against
// them: a contract those tools cannot turn into a compiling client fails.
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const contract = require.resolve('@aimable/auth-openapi/openapi.yaml');
const bin = (name) => join(here, 'node_modules', '.bin', name);
const run = (command, args) => execFileSync(command, args, { cwd: here, stdio: ['ignore', 'pipe', 'inherit'] });

rmSync(join(here, 'gen'), { recursive: true, force: true });
const generators = [
  ['openapi-typescript + openapi-fetch', () => run(bin('openapi-typescript'), [contract, '--output', 'gen/openapi-typescript/schema.d.ts'])],
  ['orval (fetch client)', () => run(bin('orval'), ['--config', 'orval.config.mjs'])],
];
let failed = 0;
for (const [name, generate] of generators) {
  try {
    generate();
  } catch (error) {
    failed += 1;
    console.error(`${name}: generation failed: ${error instanceof Error ? error.message : String(error)}`);
  }
}
if (failed === 0) {
  try {
    run(bin('tsc'), ['-p', 'tsconfig.json']);
  } catch (error) {
    failed = generators.length;
    process.stderr.write(error.stdout?.toString() ?? String(error));
  }
}
console.log(`contract-compat: ${generators.length - failed} passed, ${failed} failed`);
process.exitCode = failed === 0 ? 0 : 1;
