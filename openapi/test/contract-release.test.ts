import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, test } from 'vitest';
import { parse, stringify } from 'yaml';

const openapiDir = resolve(import.meta.dirname, '..');
const contractPath = join(openapiDir, 'openapi.yaml');
const releasedPath = join(openapiDir, 'released/openapi.yaml');
const checkBreaking = join(openapiDir, 'scripts/check-breaking.mjs');

// Each Optic run takes 10 to 20 seconds of CPU on this contract.
const OPTIC_TIMEOUT = 120_000;

type Contract = {
  info: { version: string };
  paths: Record<string, Record<string, { parameters?: { name: string; required?: boolean; schema?: unknown }[] }>>;
  components: { schemas: Record<string, { required?: string[]; properties: Record<string, Record<string, unknown>> }> };
};

const readContract = (path: string) => parse(readFileSync(path, 'utf8')) as Contract;

const work = mkdtempSync(join(tmpdir(), 'contract-breaking-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function writeContract(name: string, edit: (contract: Contract) => void): string {
  const contract = readContract(releasedPath);
  edit(contract);
  const path = join(work, `${name}.yaml`);
  writeFileSync(path, stringify(contract));
  return path;
}

function changesetDir(name: string, changesets: Record<string, string>): string {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  for (const [file, text] of Object.entries(changesets)) writeFileSync(join(dir, file), text);
  return dir;
}

async function check(head: string, changesets: string) {
  try {
    const { stdout, stderr } = await promisify(execFile)(
      process.execPath,
      [checkBreaking, '--base', releasedPath, '--head', head, '--changesets', changesets],
      { timeout: OPTIC_TIMEOUT },
    );
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? -1, output: `${failed.stdout ?? ''}${failed.stderr ?? ''}` };
  }
}

// Five breaking edits in one copy, so Optic runs once for all of them.
const breaking = writeContract('breaking', (contract) => {
  delete contract.paths['/v1/auth/sessions/{session_id}']!.delete;
  const redirect = contract.components.schemas.AuthorizationRedirect!;
  delete redirect.properties.expires_at;
  redirect.required = redirect.required!.filter((name) => name !== 'expires_at');
  redirect.properties.state!.type = 'integer';
  const start = contract.paths['/v1/auth/oidc/{provider}/start']!.get!;
  start.parameters!.find((parameter) => parameter.name === 'code_challenge')!.required = true;
  contract.components.schemas.CreateSessionRequest!.properties.refresh_token_delivery!.enum = ['cookie'];
  // An enum not marked extensible: a client may hold every value it knows.
  contract.components.schemas.SessionGrant!.properties.token_type!.enum = ['Bearer', 'DPoP'];
});

const additive = writeContract('additive', (contract) => {
  contract.components.schemas.AuthorizationRedirect!.properties.provider = {
    type: 'string',
    description: 'The provider the login goes to.',
  };
  // `ProblemCode` is `x-extensible-enum`: clients handle a code they do not know.
  (contract.components.schemas.ProblemCode as unknown as { enum: string[] }).enum.push('ping_refused');
  contract.paths['/v1/ping'] = {
    get: { operationId: 'ping', summary: 'Ping', responses: { '204': { description: 'Pong.' } } } as never,
  };
});

const noChangesets = changesetDir('no-major', {
  'README.md': '# Changesets\n',
  'minor-contract.md': '---\n"@aimable/auth-openapi": minor\n"@aimable/auth-client": major\n---\n\nA minor change.\n',
});
const majorChangeset = changesetDir('major', {
  'drop-session-revoke.md': "---\n'@aimable/auth-openapi': major\n---\n\n**BREAKING** Session revocation is gone.\n",
});

describe('The contract version', () => {
  test('When the contract is read, then its info.version is the version of @aimable/auth-openapi', () => {
    const { version } = JSON.parse(readFileSync(join(openapiDir, 'package.json'), 'utf8')) as { version: string };
    expect(readContract(contractPath).info.version, 'run `pnpm contract:release` after `pnpm changeset version`').toBe(
      version,
    );
  });
});

// Optic is CPU-bound: the three runs go side by side.
describe.concurrent('pnpm contract:breaking', () => {
  test(
    'When an operation or a response field is removed, a parameter made required, an enum narrowed or a type changed, then it fails naming each',
    async () => {
      const { code, output } = await check(breaking, noChangesets);
      expect(output).toContain('DELETE /v1/auth/sessions/{session_id}: cannot remove an operation.');
      expect(output).toContain("cannot remove response property 'expires_at'");
      expect(output).toContain("GET /v1/auth/oidc/{provider}/start: cannot make optional query parameter 'code_challenge' required");
      expect(output).toContain("POST /v1/auth/oidc/session: cannot remove enum option 'body' from 'refresh_token_delivery'");
      expect(output).toContain("expected response body property 'state' not to be expanded. [prevent response property type changes]");
      expect(output).toContain("cannot add enum option 'DPoP' from 'token_type' property");
      expect(output).toContain('declare a major release');
      expect(code).toBe(1);
    },
    OPTIC_TIMEOUT,
  );

  test(
    'When a major changeset for @aimable/auth-openapi declares them, then the same breaking changes pass and are listed',
    async () => {
      const { code, output } = await check(breaking, majorChangeset);
      expect(output).toContain('DELETE /v1/auth/sessions/{session_id}: cannot remove an operation.');
      expect(output).toMatch(/Allowed: .*drop-session-revoke\.md declares a major release of @aimable\/auth-openapi/);
      expect(code).toBe(0);
    },
    OPTIC_TIMEOUT,
  );

  test(
    'When an optional response field, an operation and a value of an extensible enum are added, then it passes without a changeset',
    async () => {
      const { code, output } = await check(additive, noChangesets);
      expect(output).toContain('No breaking change');
      expect(code).toBe(0);
    },
    OPTIC_TIMEOUT,
  );
});
