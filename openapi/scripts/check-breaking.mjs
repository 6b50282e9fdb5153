#!/usr/bin/env node
// `pnpm contract:breaking`: compares the contract with the last released one
// (openapi/released/openapi.yaml) under Optic's breaking-change rules
// (openapi/optic.yml). A change that can break a client (a removed operation,
// response field or status, a newly required parameter or field, a narrowed
// enum, a changed type) fails, unless a changeset declares a major release of
// @aimable/auth-openapi.
//
//   node openapi/scripts/check-breaking.mjs [--base FILE] [--head FILE] [--changesets DIR]
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';

export const CONTRACT_PACKAGE = '@aimable/auth-openapi';

const openapiDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const repoRoot = resolve(openapiDir, '..');

/** The changesets (`.changeset/*.md`) whose front matter bumps the contract package by a major. */
export function majorContractChangesets(changesetDir) {
  let names;
  try {
    names = readdirSync(changesetDir);
  } catch (error) {
    if (error.code === 'ENOENT') return [];
    throw error;
  }
  return names
    .filter((name) => name.endsWith('.md') && name !== 'README.md')
    .filter((name) => {
      const frontMatter = /^---\r?\n([\s\S]*?)\r?\n---/.exec(readFileSync(join(changesetDir, name), 'utf8'));
      if (!frontMatter) return false;
      // Read as YAML, as Changesets reads it: what it would refuse at release time lets nothing through here.
      let releases;
      try {
        releases = parseYaml(frontMatter[1]);
      } catch {
        return false;
      }
      return releases !== null && typeof releases === 'object' && releases[CONTRACT_PACKAGE] === 'major';
    })
    .map((name) => join(changesetDir, name));
}

/**
 * Optic prints each failed rule as `x [rule name] message` under the
 * operation it belongs to (`x GET /path: …`). Findings under a removed
 * operation (each of its responses and fields) are folded into the removal.
 */
export function breakingFindings(opticOutput) {
  const findings = [];
  let operation = '(document)';
  let removed = false;
  for (const line of opticOutput.split(/\r?\n/)) {
    const header = /^x ((?:GET|PUT|POST|DELETE|OPTIONS|HEAD|PATCH|TRACE) \S+):\s*(removed)?/.exec(line);
    if (header) {
      operation = header[1];
      removed = header[2] === 'removed';
      continue;
    }
    const failure = /^\s*x \[([^\]]+)\] (.*?)(?: This is a breaking change\.)?\s*$/.exec(line);
    if (!failure) continue;
    const [, rule, message] = failure;
    if (removed && rule !== 'prevent operation removal') continue;
    findings.push({ operation, rule, message });
  }
  return findings;
}

/**
 * The values each enum marked `x-extensible-enum: true` gained since the
 * base contract. Such an enum says, in the contract, that later versions
 * add values and that clients handle one they do not know (`ProblemCode`):
 * adding one breaks no client, though Optic counts any added response enum
 * value as breaking.
 */
export function addedExtensibleEnumValues(baseDocument, headDocument) {
  const enums = (document) => {
    const found = new Map();
    const visit = (node, path) => {
      if (Array.isArray(node)) return node.forEach((item, i) => visit(item, `${path}/${i}`));
      if (node === null || typeof node !== 'object') return;
      if (node['x-extensible-enum'] === true && Array.isArray(node.enum)) found.set(path, node.enum);
      for (const [key, value] of Object.entries(node)) visit(value, `${path}/${key}`);
    };
    visit(document, '#');
    return found;
  };
  const before = enums(baseDocument);
  const added = new Set();
  for (const [path, values] of enums(headDocument)) {
    const known = new Set(before.get(path) ?? []);
    for (const value of values) if (!known.has(value)) added.add(String(value));
  }
  return added;
}

/** Drops Optic's findings of a value added to an extensible enum: every response that names it reports it. */
export function withoutExtensibleEnumAdditions(findings, added) {
  return findings.filter((f) => {
    const match = /^cannot add enum option '(.*)' from '[^']*' property\.?$/.exec(f.message);
    return !(f.rule === 'request and response property enums' && match && added.has(match[1]));
  });
}

function runOptic(base, head) {
  const require = createRequire(import.meta.url);
  const optic = join(dirname(require.resolve('@useoptic/optic/package.json')), 'build/index.js');
  const args = [optic, 'diff', base, head, '--check', '--standard', join(openapiDir, 'optic.yml')];
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, args, {
      cwd: openapiDir,
      // Offline and quiet: no telemetry, no update check, no colours to parse around.
      env: { ...process.env, OPTIC_TELEMETRY_LEVEL: 'off', NO_UPDATE_NOTIFIER: '1', FORCE_COLOR: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code, output }));
  });
}

async function main() {
  const { values } = parseArgs({
    options: {
      base: { type: 'string', default: join(openapiDir, 'released/openapi.yaml') },
      head: { type: 'string', default: join(openapiDir, 'openapi.yaml') },
      changesets: { type: 'string', default: join(repoRoot, '.changeset') },
    },
  });
  const base = resolve(values.base);
  const head = resolve(values.head);
  const shown = (path) => relative(process.cwd(), path) || path;

  const { code, output } = await runOptic(base, head);
  const added = addedExtensibleEnumValues(parseYaml(readFileSync(base, 'utf8')), parseYaml(readFileSync(head, 'utf8')));
  const reported = breakingFindings(output);
  const findings = withoutExtensibleEnumAdditions(reported, added);
  if ((code === 0 || reported.length > 0) && findings.length === 0) {
    console.log(`No breaking change in ${shown(head)} since the released contract (${shown(base)}).`);
    return 0;
  }
  if (findings.length === 0) {
    // Optic failed without a rule to show: a spec it cannot read, or a crash.
    console.error(output);
    console.error(`Optic could not compare ${shown(head)} with ${shown(base)} (exit code ${code}).`);
    return 2;
  }

  const lines = findings.map((f) => `  ${f.operation}: ${f.message} [${f.rule}]`);
  const majors = majorContractChangesets(resolve(values.changesets));
  if (majors.length > 0) {
    console.log(`Breaking changes since the released contract (${shown(base)}):\n${lines.join('\n')}`);
    console.log(`Allowed: ${majors.map(shown).join(', ')} declares a major release of ${CONTRACT_PACKAGE}.`);
    return 0;
  }
  console.error(`Breaking changes since the released contract (${shown(base)}):\n${lines.join('\n')}`);
  console.error(
    `\nThese break existing clients. Undo them, or declare a major release: run \`pnpm changeset\`, ` +
      `choose "major" for ${CONTRACT_PACKAGE} and describe the change as **BREAKING**.\n` +
      `Optic's full report, in openapi/: node_modules/.bin/optic diff ${base} ${head} --check --standard optic.yml`,
  );
  return 1;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await main();
}
