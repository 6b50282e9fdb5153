import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, describe, expect, test } from 'vitest';
import { parse, stringify } from 'yaml';
import { generateInto } from './generate.js';

const packageDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const workDir = mkdtempSync(join(packageDir, '.drift-'));

afterAll(() => rmSync(workDir, { recursive: true, force: true }));

/** Regenerates the skeleton from a changed contract and compiles the existing handlers against it. */
async function compileStubsAgainst(name: string, changeSpec: (spec: Record<string, any>) => void): Promise<string[]> {
  const spec = parse(readFileSync(resolve(packageDir, '../../openapi/openapi.yaml'), 'utf8'));
  changeSpec(spec);
  const dir = join(workDir, name);
  const specPath = join(workDir, `${name}.yaml`);
  writeFileSync(specPath, stringify(spec));
  await generateInto(specPath, dir, join(packageDir, 'src/context.ts'));
  const checkPath = join(dir, 'check.ts');
  writeFileSync(
    checkPath,
    [`import type { Handlers } from './gen/handlers.gen.js';`, `import { stubHandlers } from '../../test/stub-handlers.js';`, `export const handlers: Handlers = stubHandlers;`].join('\n'),
  );
  const config = ts.getParsedCommandLineOfConfigFile(join(packageDir, 'tsconfig.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} });
  const program = ts.createProgram([checkPath], { ...config!.options, noEmit: true });
  return ts
    .getPreEmitDiagnostics(program)
    .filter((d) => d.file?.fileName === checkPath)
    .map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
}

describe('contract drift', () => {
  test('When the contract is unchanged, then the existing handlers compile', async () => {
    expect(await compileStubsAgainst('unchanged', () => {})).toEqual([]);
  }, 60_000);

  test('When an operation is added to the contract and not implemented, then the handlers do not compile', async () => {
    const errors = await compileStubsAgainst('added', (spec) => {
      spec.paths['/v1/auth/ping'] = { get: { operationId: 'ping', summary: 'Ping', responses: { '204': { description: 'Pong' } } } };
    });
    expect(errors.join('\n')).toMatch(/Property 'ping' is missing/);
  }, 60_000);

  test('When a response shape changes in the contract, then handlers returning the old shape do not compile', async () => {
    const errors = await compileStubsAgainst('changed', (spec) => {
      spec.components.schemas.Health.properties.status.enum = ['healthy'];
    });
    expect(errors.join('\n'), JSON.stringify(errors)).toMatch(/getHealth/);
  }, 60_000);
});
