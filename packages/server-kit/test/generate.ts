import { mkdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { createClient } from '@hey-api/openapi-ts';
import { defineConfig as handlers } from '../plugin/index.js';

/**
 * Generates, from `spec`, the operation types (as `@aimable/auth-openapi`
 * does) into `<dir>/types` and the handler types (as this kit does) into
 * `<dir>/gen`, the latter importing the former and `HandlerContext` from
 * `contextModule`.
 */
export async function generateInto(spec: string, dir: string, contextModule: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const silent = { level: 'silent' } as const;
  await createClient({ input: spec, output: { path: join(dir, 'types'), module: { extension: '.js' } }, plugins: ['@hey-api/typescript'], logs: silent });
  await createClient({
    input: spec,
    output: { path: join(dir, 'gen'), module: { extension: '.js' }, entryFile: false },
    plugins: [handlers({ typesModule: '../types/types.gen.js', contextModule: relative(join(dir, 'gen'), contextModule).replace(/\.ts$/, '.js') })],
    logs: silent,
  });
}
