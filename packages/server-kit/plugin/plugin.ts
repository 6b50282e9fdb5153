import { $, toCase, type IR, type TypeTsDsl } from '@hey-api/openapi-ts';
import type { HandlersPlugin } from './types.js';

type Json = Record<string, any>;
type TypeNode = TypeTsDsl;
const LOCATIONS = [
  ['path', 'path'],
  ['query', 'query'],
  ['header', 'headers'],
] as const;

/**
 * Walks hey-api's model of each operation and writes its handler types.
 * The operation types themselves come from `typesModule`, generated once
 * for the whole project; what the model leaves out (response headers, the
 * structure of security requirements) is read from the bundled document.
 */
export const handler: HandlersPlugin['Handler'] = ({ plugin }) => {
  const spec = plugin.context.spec as Json;
  const resolve = <T = Json>(node: Json): T => (typeof node?.$ref === 'string' ? resolve(plugin.context.resolveRef<Json>(node.$ref)) : (node as T));
  const external = (name: string, module: string) => plugin.symbol(name, { external: module, kind: 'type', meta: { category: 'external', resource: module, resourceId: name } });
  const own = (name: string) => plugin.symbol(name, { meta: { category: 'type', resource: 'handlers', resourceId: name } });
  const typeOf = (name: string) => external(name, plugin.config.typesModule);
  const context = external('HandlerContext', plugin.config.contextModule);

  const schemeNames = Object.keys(spec.components?.securitySchemes ?? {});
  const schemeName = own('SecuritySchemeName');
  plugin.node(
    $.type
      .alias(schemeName)
      .export()
      .doc('The security schemes of the contract.')
      .type(schemeNames.length === 0 ? $.type('never') : $.type.or(...schemeNames.map((name) => $.type.literal(name)))),
  );
  const principals = own('Principals');
  plugin.node($.type.alias(principals).export().doc('What each security scheme resolves to, as the security step hands it to handlers.').type($.type('Record').generics($.type(schemeName), $.type('unknown'))));
  const defaults = own('DefaultPrincipals');
  plugin.node($.type.alias(defaults).export().doc('Without resolvers of its own, a scheme resolves to the credential as sent.').type($.type('Record').generics($.type(schemeName), $.type('string'))));

  const handlerProps: [string, TypeNode][] = [];
  const problemProps: [string, TypeNode][] = [];
  const operations: { id: string; operation: IR.OperationObject; path: string; method: string }[] = [];
  plugin.forEach('operation', (event) => operations.push({ id: event.operation.id, operation: event.operation, path: event.path, method: event.method }));
  operations.sort((a, b) => a.id.localeCompare(b.id));

  for (const { id, operation, path, method } of operations) {
    const Name = toCase(id, 'PascalCase');
    const raw = spec.paths[path][method] as Json;
    const rawPath = spec.paths[path] as Json;
    const parameters = [...(rawPath.parameters ?? []), ...(raw.parameters ?? [])].map((p: Json) => resolve(p));
    const data = typeOf(`${Name}Data`);

    // The input: parameters by location, the body, and the resolved caller.
    const input = $.type.object();
    for (const [location, field] of LOCATIONS) {
      const declared = parameters.some((p) => p.in === location);
      input.prop(field, (p) => p.type(declared ? $.type('NonNullable').generic($.type(data).idx($.type.literal(field))) : emptyRecord()));
    }
    const cookies = parameters.filter((p) => p.in === 'cookie');
    input.prop('cookies', (p) => p.type(cookies.length === 0 ? emptyRecord() : objectOf(cookies.map((c) => ({ name: c.name, type: $.type('string'), required: c.required === true })))));
    const body = operation.body;
    input.prop('body', (p) =>
      p.type(body ? (body.required ? $.type(data).idx($.type.literal('body')) : $.type.or($.type(data).idx($.type.literal('body')), $.type('undefined'))) : $.type('undefined')),
    );
    const requirements = ((raw.security ?? spec.security ?? []) as Json[]).map((r) => Object.keys(r)).filter((names) => names.length > 0);
    input.prop('security', (p) =>
      p
        .doc(requirements.length === 0 ? 'The operation is public: there is no caller to resolve.' : 'The caller, as the security step resolved it.')
        .type(
          requirements.length === 0
            ? emptyRecord()
            : $.type.or(...requirements.map((names) => objectOf(names.map((n) => ({ name: n, type: $.type('P').idx($.type.literal(n)), required: true }))))),
        ),
    );
    const inputSymbol = own(`${Name}Input`);
    plugin.node(
      $.type
        .alias(inputSymbol)
        .export()
        .doc(`What the \`${id}\` handler receives, validated against the contract.`)
        .generic('P', (t) => t.extends($.type(principals)).default($.type(defaults)))
        .type(input),
    );

    // The answers, exactly as declared: status, body and headers; and the problems among them.
    const results: TypeNode[] = [];
    const problems: TypeNode[] = [];
    for (const [status, ref] of Object.entries<Json>(raw.responses ?? {})) {
      const response = resolve(ref);
      const code = Number(status);
      const group = code >= 400 ? typeOf(`${Name}Errors`) : typeOf(`${Name}Responses`);
      const hasBody = Object.keys(response.content ?? {}).length > 0;
      const headerFields = Object.entries<Json>(response.headers ?? {}).map(([name, h]) => {
        const header = resolve(h);
        return { name, type: headerType(name, resolve(header.schema ?? {})), required: header.required === true };
      });
      const headers = headerFields.length === 0 ? emptyRecord() : objectOf(headerFields);
      const headersRequired = headerFields.some((h) => h.required);
      const result = $.type.object().prop('status', (p) => p.type($.type.literal(code)));
      result.prop('body', (p) => (hasBody ? p.type($.type(group).idx($.type.literal(code))) : p.optional().type($.type('undefined'))));
      result.prop('headers', (p) => (headersRequired ? p.type(headers) : p.optional().type(headers)));
      results.push(result);
      if (code >= 400 && hasBody) {
        const problem = $.type
          .object()
          .prop('status', (p) => p.type($.type.literal(code)))
          .prop('code', (p) => p.type($.type(group).idx($.type.literal(code)).idx($.type.literal('code'))))
          .prop('headers', (p) => (headersRequired ? p.type(headers) : p.optional().type(headers)));
        problems.push(problem);
      }
    }
    const resultSymbol = own(`${Name}Result`);
    plugin.node($.type.alias(resultSymbol).export().doc(`Exactly the answers the contract declares for \`${id}\`.`).type(results.length === 1 ? results[0]! : $.type.or(...results)));
    const problemSymbol = own(`${Name}Problem`);
    plugin.node(
      $.type
        .alias(problemSymbol)
        .export()
        .doc(`The problems \`${id}\` may answer: each status with exactly its codes and headers.`)
        .type(problems.length === 0 ? $.type('never') : problems.length === 1 ? problems[0]! : $.type.or(...problems)),
    );
    problemProps.push([id, $.type(problemSymbol)]);
    handlerProps.push([
      id,
      $.type
        .func()
        .param('input', (a) => a.type($.type(inputSymbol).generic($.type('P'))))
        .param('context', (a) => a.type($.type(context)))
        .returns($.type.or($.type(resultSymbol), $.type('Promise').generic($.type(resultSymbol)))),
    ]);
  }

  const handlersSymbol = own('Handlers');
  const handlers = $.type.object();
  for (const [id, type] of handlerProps) handlers.prop(id, (p) => p.type(type));
  plugin.node(
    $.type
      .alias(handlersSymbol)
      .export()
      .doc([
        'One method per operation of the contract. An operation added to the',
        'contract and not implemented, an undeclared status, or a wrong body',
        'shape does not compile.',
      ])
      .generic('P', (t) => t.extends($.type(principals)).default($.type(defaults)))
      .type(handlers),
  );
  const problemsSymbol = own('OperationProblems');
  const problemMap = $.type.object();
  for (const [id, type] of problemProps) problemMap.prop(id, (p) => p.type(type));
  plugin.node($.type.alias(problemsSymbol).export().doc('The problems each operation may answer, by operationId.').type(problemMap));
};

function emptyRecord(): TypeNode {
  return $.type('Record').generics($.type('string'), $.type('never'));
}

function objectOf(fields: { name: string; type: TypeNode; required: boolean }[]): TypeNode {
  const object = $.type.object();
  for (const field of fields) object.prop(field.name, (p) => (field.required ? p.type(field.type) : p.optional().type(field.type)));
  return object;
}

/** The TypeScript type of a header value: its const or enum, a number for integers (sent as text), a string otherwise. */
function headerType(name: string, schema: Json): TypeNode {
  if (name.toLowerCase() === 'set-cookie') return $.type.or($.type('string'), $.type('Array').generic($.type('string')));
  if (schema.const !== undefined) return $.type.literal(String(schema.const));
  if (Array.isArray(schema.enum)) return $.type.or(...schema.enum.map((value: unknown) => $.type.literal(String(value))));
  if (schema.type === 'integer' || schema.type === 'number') return $.type.or($.type('number'), $.type('string'));
  return $.type('string');
}
