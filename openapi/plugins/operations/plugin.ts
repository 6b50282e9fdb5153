import { $, type IR } from '@hey-api/openapi-ts';
import type { OperationsPlugin } from './types.js';

type Json = Record<string, any>;
const METHOD_ORDER = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace'];

/**
 * Walks hey-api's model of each operation. What the model leaves out
 * (response headers, the structure of security requirements, extensions on
 * responses and on the document) is read from the bundled document, whose
 * `$ref`s the plugin context resolves.
 */
export const handler: OperationsPlugin['Handler'] = ({ plugin }) => {
  const spec = plugin.context.spec as Json;
  const resolve = <T = Json>(node: Json): T => (typeof node?.$ref === 'string' ? resolve(plugin.context.resolveRef<Json>(node.$ref)) : (node as T));
  const schemeNames = Object.keys(spec.components?.securitySchemes ?? {});

  const described: Json[] = [];
  plugin.forEach('operation', (event) => {
    const operation: IR.OperationObject = event.operation;
    const raw = spec.paths[event.path][event.method] as Json;
    const rawPath = spec.paths[event.path] as Json;
    const parameters = [...(rawPath.parameters ?? []), ...(raw.parameters ?? [])].map((p: Json) => {
      const parameter = resolve(p);
      return {
        name: parameter.name,
        in: parameter.in,
        required: parameter.in === 'path' || parameter.required === true,
        ...(parameter['x-problem-code'] ? { problemCode: parameter['x-problem-code'] } : {}),
      };
    });
    const requirements = ((raw.security ?? spec.security ?? []) as Json[]).map((requirement) => Object.keys(requirement)).filter((names) => names.length > 0);
    for (const name of requirements.flat()) if (!schemeNames.includes(name)) throw new Error(`${operation.id}: unknown security scheme ${name}`);
    const responses: Json = {};
    for (const [status, ref] of Object.entries<Json>(raw.responses ?? {})) {
      const response = resolve(ref);
      const contentType = Object.keys(response.content ?? {})[0];
      const headers = Object.entries<Json>(response.headers ?? {}).map(([name, h]) => ({ name, required: resolve(h).required === true }));
      const codes = contentType ? problemCodes(resolve(response.content[contentType].schema ?? {}), resolve) : undefined;
      responses[status] = { ...(contentType ? { contentType } : {}), headers, ...(codes ? { problemCodes: codes } : {}) };
    }
    const body = raw.requestBody ? resolve(raw.requestBody) : undefined;
    described.push({
      operationId: operation.id,
      method: event.method,
      path: event.path,
      parameters,
      body: body ? { required: body.required === true, mediaTypes: Object.keys(body.content ?? {}) } : null,
      security: requirements,
      responses,
      unknownQueryParameters: raw['x-unknown-query-parameters'] === 'ignore' ? 'ignore' : 'refuse',
    });
  });
  described.sort((a, b) => a.path.localeCompare(b.path) || METHOD_ORDER.indexOf(a.method) - METHOD_ORDER.indexOf(b.method));

  const schemes = Object.fromEntries(
    Object.entries<Json>(spec.components?.securitySchemes ?? {}).map(([name, scheme]) => {
      if (typeof scheme['x-problem-code'] !== 'string') throw new Error(`securitySchemes.${name} needs x-problem-code: the code of its 401`);
      return [
        name,
        {
          type: scheme.type,
          in: scheme.type === 'http' ? 'header' : scheme.in,
          parameter: scheme.type === 'apiKey' ? scheme.name : 'Authorization',
          ...(scheme.scheme ? { scheme: scheme.scheme } : {}),
          problemCode: scheme['x-problem-code'],
        },
      ];
    }),
  );
  const unrouted = Object.fromEntries(
    Object.entries<Json>(spec['x-unrouted-responses'] ?? {}).map(([status, ref]) => {
      const response = resolve(ref);
      const contentType = Object.keys(response.content ?? {})[0]!;
      return [
        status,
        {
          contentType,
          headers: Object.entries<Json>(response.headers ?? {}).map(([name, h]) => ({ name, required: resolve(h).required === true })),
          problemCodes: problemCodes(resolve(response.content[contentType].schema), resolve),
        },
      ];
    }),
  );

  const emit = (name: string, value: unknown, doc: string, asConst = true) => {
    const symbol = plugin.symbol(name, { meta: { category: 'value', resource: 'contract', resourceId: name } });
    const literal = $.fromValue(value);
    plugin.node($.const(symbol).export().doc(doc).assign(asConst ? $.as(literal, 'const') : literal));
  };
  const idSymbol = plugin.symbol('OperationId', { meta: { category: 'type', resource: 'contract', resourceId: 'OperationId' } });
  plugin.node(
    $.type
      .alias(idSymbol)
      .export()
      .doc('The operations of the contract, by operationId.')
      .type($.type.or(...described.map((d) => $.type.literal(d.operationId)))),
  );
  emit('operations', described, 'Every operation of the contract, as data: its route, its inputs, its security and its responses.');
  emit('securitySchemes', schemes, 'How each security scheme is sent, and the problem code of its 401 (`x-problem-code`).');
  emit('unroutedResponses', unrouted, 'What a path outside the contract (404) or a method a path does not take (405) answers (`x-unrouted-responses`).');
  emit('openApiDocument', spec, 'The contract itself, bundled: for validators.', false);
};

/** The problem codes a problem schema allows: the `code` enum or const found in it or its `allOf` parts. */
function problemCodes(schema: Json, resolve: (node: Json) => Json): string[] | undefined {
  const parts = [schema, ...((schema.allOf ?? []) as Json[]).map(resolve)];
  let codes: string[] | undefined;
  for (const part of parts) {
    const code = part.properties?.code ? resolve(part.properties.code) : undefined;
    if (!code) continue;
    const allowed = code.const !== undefined ? [code.const] : (code.enum as string[] | undefined);
    if (allowed) codes = codes ? codes.filter((c) => allowed.includes(c)) : [...allowed];
  }
  return codes;
}
