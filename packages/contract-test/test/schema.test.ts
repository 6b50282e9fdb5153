import { openApiDocument } from '@aimable/auth-openapi';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { invalidValue, validValue, type Schema } from '../src/schema.js';

const document = openApiDocument as unknown as { components: { schemas: Record<string, Schema>; parameters: Record<string, { schema: Schema }> } };
const ajv = new Ajv2020({ strict: false, allErrors: false });
// ajv-formats is CommonJS: its default export arrives wrapped under ESM.
const addFormats = ((addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ?? addFormatsModule) as unknown as (ajv: Ajv2020) => void;
addFormats(ajv);
ajv.addSchema({ ...document, $id: 'contract.json' });

const named: [string, Schema][] = [
  ...(['CreateSessionRequest', 'RefreshRequest', 'TenantId', 'SessionId'] as const).map((name): [string, Schema] => [name, { $ref: `#/components/schemas/${name}` }]),
  ...Object.entries(document.components.parameters).map(([name, parameter]): [string, Schema] => [`parameter ${name}`, parameter.schema]),
];

/** An ajv validator for a schema of the contract, with its `$ref`s resolved in the contract. */
function validatorOf(schema: Schema) {
  const rebased = JSON.parse(JSON.stringify(schema).replace(/"#\//g, '"contract.json#/'));
  return ajv.compile(rebased);
}

describe('values derived from the contract', () => {
  test.each(named)('When values are drawn for %s, then every fitting value validates and every breaking one does not', (_name, schema) => {
    const validate = validatorOf(schema);
    fc.assert(
      fc.property(validValue(document, schema), (value) => {
        expect(validate(value), JSON.stringify(value)).toBe(true);
      }),
      { numRuns: 200, seed: 7 },
    );
    fc.assert(
      fc.property(invalidValue(document, schema), (value) => {
        expect(validate(value), JSON.stringify(value)).toBe(false);
      }),
      { numRuns: 200, seed: 7 },
    );
  });
});
