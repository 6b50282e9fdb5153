#!/usr/bin/env node
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { junit, summary } from './report.js';
import { runContractTests } from './run.js';

const usage = `Usage: aimable-contract-test --base-url URL [--tenant ID --api-key KEY --provider ID --user NAME --password PW]
                             [--redirect-uri URI] [--seed N] [--requests N] [--report junit.xml] [--read-only] [--strict-headers]
       (pnpm contract-test in the Aimable Auth repository)

Proves that the implementation at URL honours the Aimable Auth contract: every operation
through the typed client (the full login when --provider is given and its login page can
be passed), then spec-derived fuzzing with every answer judged by the contract.
Exits 1 on any violation.`;

let values;
try {
  ({ values } = parseArgs({
    options: {
      'base-url': { type: 'string' },
      tenant: { type: 'string' },
      'api-key': { type: 'string' },
      provider: { type: 'string' },
      user: { type: 'string' },
      password: { type: 'string' },
      'redirect-uri': { type: 'string' },
      seed: { type: 'string' },
      requests: { type: 'string' },
      report: { type: 'string' },
      'read-only': { type: 'boolean', default: false },
      'strict-headers': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  }));
} catch (error) {
  console.error(`${error instanceof Error ? error.message : String(error)}\n\n${usage}`);
  process.exit(2);
}
if (values.help || !values['base-url']) {
  console.log(usage);
  process.exit(values.help ? 0 : 2);
}
const integer = (name: string, raw: string | undefined) => {
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 0) {
    console.error(`--${name} must be a non-negative integer`);
    process.exit(2);
  }
  return value;
};

const report = await runContractTests({
  baseUrl: values['base-url'],
  tenant: values.tenant,
  apiKey: values['api-key'],
  provider: values.provider,
  user: values.user,
  password: values.password,
  redirectUri: values['redirect-uri'],
  seed: integer('seed', values.seed),
  requests: integer('requests', values.requests),
  readOnly: values['read-only'],
  strictHeaders: values['strict-headers'],
});
console.log(summary(report));
if (values.report) {
  writeFileSync(values.report, junit(report));
  console.log(`JUnit report: ${values.report}`);
}
process.exit(report.ok ? 0 : 1);
