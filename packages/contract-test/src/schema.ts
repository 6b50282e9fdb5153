import fc from 'fast-check';

/** A JSON Schema node of the contract (OpenAPI 3.1 uses JSON Schema 2020-12). */
export type Schema = {
  $ref?: string;
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  pattern?: string;
  format?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean | Schema;
  items?: Schema;
  allOf?: Schema[];
  oneOf?: Schema[];
  anyOf?: Schema[];
  default?: unknown;
  examples?: unknown[];
};

/** Follows a `$ref` (and the refs it leads to) within the document. */
export function deref<T extends object>(document: object, node: T | { $ref: string }): T {
  let current: unknown = node;
  for (let hops = 0; hops < 20 && typeof (current as { $ref?: unknown }).$ref === 'string'; hops += 1) {
    const pointer = ((current as { $ref: string }).$ref).replace(/^#\//, '').split('/');
    current = pointer.map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~')).reduce<unknown>((at, key) => (at as Record<string, unknown>)?.[key], document);
  }
  return current as T;
}

/** The schema with `$ref`s and `allOf` resolved at its top level, and its properties resolved too. */
export function resolveSchema(document: object, schema: Schema): Schema {
  const base = deref<Schema>(document, schema);
  if (!base.allOf) return base;
  const parts = base.allOf.map((part) => resolveSchema(document, part));
  return parts.reduce<Schema>(
    (merged, part) => ({
      ...merged,
      ...part,
      properties: { ...merged.properties, ...part.properties },
      required: [...(merged.required ?? []), ...(part.required ?? [])],
    }),
    { ...base, allOf: undefined },
  );
}

const PRINTABLE = fc.string({ unit: 'binary-ascii', minLength: 0, maxLength: 40 }).map((text) => text.replace(/[^\x20-\x7e]/g, 'a'));

/** Values that fit the schema: what a well-behaved client sends. */
export function validValue(document: object, node: Schema): fc.Arbitrary<unknown> {
  const schema = resolveSchema(document, node);
  if (schema.const !== undefined) return fc.constant(schema.const);
  if (schema.enum) return fc.constantFrom(...schema.enum);
  if (schema.oneOf ?? schema.anyOf) return fc.oneof(...(schema.oneOf ?? schema.anyOf)!.map((option) => validValue(document, option)));
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== 'null') : schema.type;
  switch (type) {
    case 'integer':
      return fc.integer({ min: schema.minimum ?? -1_000_000, max: schema.maximum ?? 1_000_000 });
    case 'number':
      return fc.double({ min: schema.minimum ?? -1e6, max: schema.maximum ?? 1e6, noNaN: true });
    case 'boolean':
      return fc.boolean();
    case 'array':
      return fc.array(schema.items ? validValue(document, schema.items) : fc.string(), { maxLength: 3 });
    case 'object':
      return validObject(document, schema);
    default:
      return validString(schema);
  }
}

function validString(schema: Schema): fc.Arbitrary<string> {
  const minLength = schema.minLength ?? 0;
  const maxLength = Math.min(schema.maxLength ?? 64, 256);
  if (schema.pattern) {
    return fc.stringMatching(new RegExp(schema.pattern), { maxLength }).filter((text) => text.length >= minLength);
  }
  if (schema.format === 'uri') return fc.webUrl().filter((url) => url.length >= minLength && url.length <= (schema.maxLength ?? Infinity));
  if (schema.format === 'date-time') return fc.date({ noInvalidDate: true, min: new Date(0), max: new Date(4e12) }).map((date) => date.toISOString());
  return fc.string({ unit: 'grapheme', minLength, maxLength }).filter((text) => text.length >= minLength && text.length <= (schema.maxLength ?? Infinity));
}

function validObject(document: object, schema: Schema): fc.Arbitrary<Record<string, unknown>> {
  const properties = Object.fromEntries(Object.entries(schema.properties ?? {}).map(([name, property]) => [name, validValue(document, property)]));
  return fc.record(properties, { requiredKeys: (schema.required ?? []).filter((name) => name in properties) });
}

/** Strings that no schema of the contract expects: odd encodings, control characters, markup, huge ones. */
export const oddString: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    '',
    ' ',
    '%',
    '%zz',
    '%00',
    '%2F..%2F',
    '../../etc/passwd',
    '\u0000',
    '\u202e\u0041',
    '\ud83d\ude00',
    '\ufeff',
    'null',
    'true',
    '-1',
    '1e309',
    '0x10',
    '[]',
    '{}',
    '<script>alert(1)</script>',
    "' OR '1'='1",
    '${jndi:ldap://x}',
    'a'.repeat(5000),
  ),
  fc.string({ unit: 'grapheme', maxLength: 60 }),
  fc.string({ unit: 'binary', maxLength: 60 }),
  PRINTABLE,
);

/** Values that break the schema: the wrong type, outside its bounds, off its pattern or enum. */
export function invalidValue(document: object, node: Schema): fc.Arbitrary<unknown> {
  const schema = resolveSchema(document, node);
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== 'null') : schema.type;
  const options: fc.Arbitrary<unknown>[] = [wrongType(type)];
  if (schema.enum) options.push(oddString.filter((text) => !schema.enum!.includes(text)));
  if (type === 'string' || type === undefined) {
    if (schema.maxLength !== undefined) options.push(fc.integer({ min: 1, max: 200 }).map((extra) => 'x'.repeat(schema.maxLength! + extra)));
    if ((schema.minLength ?? 0) > 0) options.push(fc.constant(''));
    if (schema.pattern) {
      const pattern = new RegExp(schema.pattern);
      options.push(oddString.filter((text) => !pattern.test(text)));
    }
  }
  if (type === 'integer' || type === 'number') {
    if (schema.minimum !== undefined) options.push(fc.integer({ min: -1000, max: -1 }).map((below) => schema.minimum! + below));
    if (schema.maximum !== undefined) options.push(fc.integer({ min: 1, max: 1000 }).map((above) => schema.maximum! + above));
    if (type === 'integer') options.push(fc.constantFrom(1.5, '1.5', 'abc', '', '1e3', ' 1'));
  }
  if (type === 'object') options.push(brokenObject(document, schema));
  return fc.oneof(...options);
}

function wrongType(type: string | undefined): fc.Arbitrary<unknown> {
  const all: Record<string, fc.Arbitrary<unknown>> = {
    string: oddString,
    integer: fc.integer(),
    number: fc.double({ noNaN: true }),
    boolean: fc.boolean(),
    null: fc.constant(null),
    array: fc.array(fc.jsonValue(), { maxLength: 3 }),
    object: fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue(), { maxKeys: 3 }),
  };
  const wrong = Object.entries(all).flatMap(([name, arbitrary]) => (name === type || (type === 'integer' && name === 'number') ? [] : [arbitrary]));
  return fc.oneof(...wrong);
}

/** An object with one thing wrong: a required property missing, one of the wrong shape, or one it does not declare. */
function brokenObject(document: object, schema: Schema): fc.Arbitrary<Record<string, unknown>> {
  const properties = Object.keys(schema.properties ?? {});
  const breaks: fc.Arbitrary<Record<string, unknown>>[] = [];
  for (const name of schema.required ?? []) {
    breaks.push(validObject(document, schema).map((value) => Object.fromEntries(Object.entries(value).filter(([key]) => key !== name))));
  }
  for (const name of properties) {
    breaks.push(fc.tuple(validObject(document, schema), invalidValue(document, schema.properties![name]!)).map(([value, wrong]) => ({ ...value, [name]: wrong })));
  }
  if (schema.additionalProperties === false) {
    breaks.push(
      fc
        .tuple(validObject(document, schema), fc.string({ minLength: 1, maxLength: 12 }).filter((key) => !properties.includes(key) && key !== '__proto__'), fc.jsonValue())
        .map(([value, key, extra]) => ({ ...value, [key]: extra })),
    );
  }
  return breaks.length > 0 ? fc.oneof(...breaks) : fc.constant({});
}
