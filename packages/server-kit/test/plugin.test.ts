import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, test } from 'vitest';
import { generateInto } from './generate.js';

const here = dirname(fileURLToPath(import.meta.url));
const workDir = mkdtempSync(join(resolve(here, '..'), '.drift-'));
afterAll(() => rmSync(workDir, { recursive: true, force: true }));

describe('the handlers plugin', () => {
  test('When it generates from a small contract, then its output is the recorded one', async () => {
    await generateInto(join(here, 'fixtures/pets.yaml'), workDir, join(here, '../src/context.ts'));
    const output = readFileSync(join(workDir, 'gen/handlers.gen.ts'), 'utf8').replace(/'\.\.\/[^']*context\.js'/, "'<context>'");
    await expect(output).toMatchFileSnapshot('__snapshots__/pets.handlers.gen.ts.snap');
  }, 60_000);
});
