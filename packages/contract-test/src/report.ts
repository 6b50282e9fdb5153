import type { CheckResult, ContractTestReport } from './run.js';

/** A summary for a terminal: per operation, what passed and what did not, and how to reproduce each failure. */
export function summary(report: ContractTestReport): string {
  const lines = [`Contract test of ${report.baseUrl} (fuzzer seed ${report.seed}, ${report.requests} fuzzed requests)`, ''];
  const byOperation = new Map<string, CheckResult[]>();
  for (const result of report.results) byOperation.set(result.operation, [...(byOperation.get(result.operation) ?? []), result]);
  const mark = { passed: 'ok  ', failed: 'FAIL', skipped: 'skip' } as const;
  for (const [operation, results] of byOperation) {
    lines.push(operation);
    for (const result of results) {
      lines.push(`  ${mark[result.outcome]} ${result.name}${result.outcome === 'skipped' && result.message ? ` (${result.message})` : ''}`);
      if (result.outcome === 'failed') {
        lines.push(`       ${result.message}`);
        if (result.reproduce) lines.push(`       reproduce: ${result.reproduce}`);
      }
    }
  }
  const count = (outcome: CheckResult['outcome']) => report.results.filter((result) => result.outcome === outcome).length;
  lines.push('', `${count('passed')} passed, ${count('failed')} failed, ${count('skipped')} skipped`);
  if (report.results.some((result) => result.writes && result.outcome !== 'skipped')) lines.push('Some checks wrote on the target (a login state, sessions, a refresh); --read-only skips them.');
  return lines.join('\n');
}

/** JUnit XML, one test case per check, grouped by operation. */
export function junit(report: ContractTestReport): string {
  const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '');
  const failures = report.results.filter((result) => result.outcome === 'failed').length;
  const skipped = report.results.filter((result) => result.outcome === 'skipped').length;
  const seconds = (ms: number) => (ms / 1000).toFixed(3);
  const total = report.results.reduce((sum, result) => sum + result.ms, 0);
  const cases = report.results.map((result) => {
    const open = `    <testcase classname="${escape(result.operation)}" name="${escape(result.name)}" time="${seconds(result.ms)}"`;
    if (result.outcome === 'passed') return `${open}/>`;
    if (result.outcome === 'skipped') return `${open}>\n      <skipped message="${escape(result.message ?? '')}"/>\n    </testcase>`;
    return `${open}>\n      <failure message="${escape(result.message ?? '')}">${escape([result.message, result.reproduce && `reproduce: ${result.reproduce}`].filter(Boolean).join('\n'))}</failure>\n    </testcase>`;
  });
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="aimable-auth-contract" tests="${report.results.length}" failures="${failures}" skipped="${skipped}" time="${seconds(total)}">`,
    `  <testsuite name="${escape(report.baseUrl)}" tests="${report.results.length}" failures="${failures}" skipped="${skipped}" time="${seconds(total)}">`,
    `    <properties><property name="seed" value="${report.seed}"/></properties>`,
    ...cases,
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n');
}
