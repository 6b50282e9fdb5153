#!/usr/bin/env node
// `pnpm contract:release`, after `pnpm changeset version`: the contract's
// `info.version` becomes the version of @aimable/auth-openapi, and that
// contract becomes the released one (openapi/released/openapi.yaml), which
// `pnpm contract:breaking` compares the next changes with.
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const openapiDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const contract = join(openapiDir, 'openapi.yaml');
const released = join(openapiDir, 'released/openapi.yaml');
const { version } = JSON.parse(readFileSync(join(openapiDir, 'package.json'), 'utf8'));

// The `version:` line of the top-level `info:` block, edited in place so the
// file keeps its comments and layout.
const text = readFileSync(contract, 'utf8');
const infoVersion = /^(info:\r?\n(?:[ \t]+.*\r?\n|\r?\n)*?[ \t]+version:[ \t]*)(\S+)/m;
const match = infoVersion.exec(text);
if (!match) throw new Error(`${contract}: no info.version to set`);
writeFileSync(contract, text.replace(infoVersion, `$1${version}`));
mkdirSync(dirname(released), { recursive: true });
copyFileSync(contract, released);
console.log(`info.version ${match[2]} -> ${version}; openapi/released/openapi.yaml is now the ${version} contract.`);
