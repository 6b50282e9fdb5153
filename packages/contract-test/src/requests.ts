import fc from 'fast-check';
import { deref, invalidValue, oddString, resolveSchema, validValue, type Schema } from './schema.js';

/** What the fuzzer does to a request, besides sending it as the contract describes it. */
export const MUTATIONS = ['valid', 'invalid-parameter', 'missing', 'extra', 'body', 'method', 'path', 'header'] as const;
export type Mutation = (typeof MUTATIONS)[number];

/**
 * A value taken, when the request is sent, from the pool of values the
 * implementation accepts (a tenant id, an API key, a live access token):
 * schema-valid strings alone never get past a tenant or a credential.
 */
export interface PoolRef {
  pool: string;
  pick: number;
  /** What to send when the pool has no value; without one, the parameter is left out. */
  fallback?: string;
}

export type Value = string | PoolRef;

/** A request as generated: its parts, some of them still to be taken from the pool. */
export interface PlannedRequest {
  operationId: string;
  mutation: Mutation;
  method: string;
  /** Path segments; a parameter value is encoded when sent. */
  path: (string | { value: Value })[];
  query: [string, Value][];
  headers: [string, Value][];
  /** The body: a JSON value to serialise (or one from the pool), or raw text. */
  body?: { json: unknown } | { pool: PoolRef } | { raw: string };
  contentType?: string;
}

interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  required?: boolean;
  schema: Schema;
}

export interface Operation {
  operationId: string;
  method: string;
  path: string;
  parameters: Parameter[];
  body?: { required: boolean; mediaType: string; schema: Schema };
  security: string[][];
}

interface SecurityScheme {
  type: string;
  in?: string;
  name?: string;
  scheme?: string;
}

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'];

/** The operations of a contract document, with their parameters and bodies resolved. */
export function operationsOf(document: Record<string, any>): Operation[] {
  const result: Operation[] = [];
  for (const [path, item] of Object.entries<Record<string, any>>(document.paths ?? {})) {
    for (const method of ['get', 'put', 'post', 'delete', 'patch']) {
      const operation = item[method];
      if (!operation) continue;
      const parameters = [...(item.parameters ?? []), ...(operation.parameters ?? [])].map((p) => deref<Parameter>(document, p));
      const requestBody = operation.requestBody ? deref<{ required?: boolean; content: Record<string, { schema: Schema }> }>(document, operation.requestBody) : undefined;
      const [mediaType, content] = Object.entries(requestBody?.content ?? {})[0] ?? [];
      result.push({
        operationId: operation.operationId,
        method: method.toUpperCase(),
        path,
        parameters,
        body: mediaType && content ? { required: requestBody?.required === true, mediaType, schema: content.schema } : undefined,
        security: (operation.security ?? document.security ?? []).map((requirement: Record<string, unknown>) => Object.keys(requirement)),
      });
    }
  }
  return result;
}

/** Where a parameter's pool lives: `path.provider`, `query.tenant`, `header.X-Tenant-Id`, `body.state`. */
export function poolName(location: string, name: string): string {
  return `${location}.${name}`;
}

/**
 * Requests for one operation: as the contract describes them, and with one
 * thing wrong. Known-good values come from the pool half of the time, so
 * that requests get past tenants and credentials to the checks behind them;
 * and a quarter of the valid requests take every value from the pool at
 * one index, so that pools given as parallel lists make coherent requests
 * (a tenant, its redirect URI and its API key).
 */
export function plannedRequest(document: Record<string, any>, operation: Operation, all: Operation[]): fc.Arbitrary<PlannedRequest> {
  const schemes = (document.components?.securitySchemes ?? {}) as Record<string, SecurityScheme>;
  const credentialHeaders = new Map<string, string>();
  for (const name of operation.security.flat()) {
    const scheme = schemes[name];
    if (scheme?.type === 'http') credentialHeaders.set('Authorization', poolName('header', 'Authorization'));
    else if (scheme?.in === 'header' && scheme.name) credentialHeaders.set(scheme.name, poolName('header', scheme.name));
  }
  const parameters = operation.parameters.filter((p) => p.in !== 'cookie');
  // Built once: constructing an arbitrary (a regular expression's, above all) costs far more than drawing from it.
  const fitting = new Map(parameters.map((p) => [p.name, value(document, p)]));
  const breaking = new Map(parameters.map((p) => [p.name, invalidValue(document, p.schema).map((v): Value => stringify(v))]));
  const credentialValue = new Map([...credentialHeaders].map(([header, pool]) => [header, fc.oneof({ weight: 4, arbitrary: poolValue(pool) }, { weight: 1, arbitrary: oddString })]));
  const bodies = Object.fromEntries(MUTATIONS.map((mutation) => [mutation, operation.body ? bodyFor(document, operation, mutation) : fc.constant(undefined)]));
  const extras = Object.fromEntries(MUTATIONS.map((mutation) => [mutation, extraFor(mutation)]));
  const methods = Object.fromEntries(MUTATIONS.map((mutation) => [mutation, methodFor(operation, mutation)]));
  const paths = Object.fromEntries(MUTATIONS.map((mutation) => [mutation, pathFor(mutation, all)]));
  const included = (parameter: Parameter) => (parameter.required || parameter.in === 'path' ? fc.constant(true) : fc.boolean());
  const breakable = parameters.filter((p) => p.name !== 'X-Request-Id').map((p) => p.name);
  const removable = [...parameters.filter((p) => p.required).map((p) => p.name), ...credentialHeaders.keys(), ...(operation.body?.required ? ['(body)'] : [])];

  const planned = fc.constantFrom(...MUTATIONS).chain((mutation) => {
    const broken = mutation === 'invalid-parameter' && breakable.length > 0 ? fc.constantFrom(...breakable) : fc.constant(undefined);
    const missing = mutation === 'missing' && removable.length > 0 ? fc.constantFrom(...removable) : fc.constant(undefined);
    return fc.record({ broken, missing }).chain(({ broken: brokenName, missing: missingName }) => {
      const parts = parameters.map((parameter) => {
        if (parameter.name === missingName) return fc.constant(undefined);
        if (parameter.name === brokenName) return breaking.get(parameter.name)!.map((v) => ({ parameter, value: v }));
        return included(parameter).chain((yes) => (yes ? fitting.get(parameter.name)!.map((v) => ({ parameter, value: v })) : fc.constant(undefined)));
      });
      const credentials = [...credentialHeaders.keys()].map((header) =>
        header === missingName ? fc.constant(undefined) : credentialValue.get(header)!.map((v) => ({ header, value: v as Value })),
      );
      const body = missingName === '(body)' ? fc.constant(undefined) : bodies[mutation]!;
      return fc
        .record({ parts: fc.tuple(...parts), credentials: fc.tuple(...credentials), body, extra: extras[mutation]!, method: methods[mutation]!, path: paths[mutation]! })
        .map(({ parts: chosen, credentials: creds, body: plannedBody, extra, method, path }) => {
          const values = chosen.filter((part): part is { parameter: Parameter; value: Value } => part !== undefined);
          const request: PlannedRequest = {
            operationId: operation.operationId,
            mutation,
            method,
            path: path ?? segments(operation.path, values),
            query: values.filter(({ parameter }) => parameter.in === 'query').map(({ parameter, value: v }) => [parameter.name, v]),
            headers: [
              ...values.filter(({ parameter }) => parameter.in === 'header').map(({ parameter, value: v }): [string, Value] => [parameter.name, v]),
              ...creds.filter((c): c is { header: string; value: Value } => c !== undefined).map(({ header, value: v }): [string, Value] => [header, v]),
            ],
            ...(plannedBody ?? {}),
          };
          extra?.(request);
          return request;
        });
    });
  });
  return fc.oneof({ weight: 3, arbitrary: planned }, { weight: 1, arbitrary: coherent(document, operation, parameters, credentialHeaders) });
}

/** A valid request whose every value (parameters, credentials, body) is the pool's value at one index. */
function coherent(document: Record<string, any>, operation: Operation, parameters: Parameter[], credentialHeaders: Map<string, string>): fc.Arbitrary<PlannedRequest> {
  const generated = new Map(parameters.map((p) => [p.name, validValue(document, p.schema).map(stringify)]));
  return fc.tuple(fc.nat({ max: 1000 }), fc.tuple(...parameters.map((p) => generated.get(p.name)!))).map(([pick, fallbacks]) => {
    // Optional parameters the pool has no value for are left out; required ones fall back to a generated value.
    const values = parameters.map((parameter, index) => ({
      parameter,
      value: { pool: poolName(parameter.in, parameter.name), pick, fallback: parameter.required || parameter.in === 'path' ? fallbacks[index]! : undefined } as Value,
    }));
    return {
      operationId: operation.operationId,
      mutation: 'valid' as const,
      method: operation.method,
      path: segments(operation.path, values),
      query: values.filter(({ parameter }) => parameter.in === 'query').map(({ parameter, value: v }): [string, Value] => [parameter.name, v]),
      headers: [
        ...values.filter(({ parameter }) => parameter.in === 'header').map(({ parameter, value: v }): [string, Value] => [parameter.name, v]),
        ...[...credentialHeaders].map(([header, pool]): [string, Value] => [header, { pool, pick }]),
      ],
      ...(operation.body ? { body: { pool: { pool: poolName('body', operation.operationId), pick } }, contentType: operation.body.mediaType } : {}),
    };
  });
}

function value(document: Record<string, any>, parameter: Parameter): fc.Arbitrary<Value> {
  const schema = resolveSchema(document, parameter.schema);
  const generated = validValue(document, schema).map((v) => stringify(v));
  const fromPool = poolValue(poolName(parameter.in, parameter.name));
  // A header value must be printable: schema-valid strings with other characters are not sendable as headers.
  const sendable = parameter.in === 'header' ? generated.map((v) => v.replace(/[^\x20-\x7e]/g, '_').trim() || 'x') : generated;
  return fc.oneof({ weight: 1, arbitrary: sendable }, { weight: 1, arbitrary: fromPool });
}

function poolValue(pool: string): fc.Arbitrary<PoolRef> {
  return fc.nat({ max: 1000 }).map((pick) => ({ pool, pick }));
}

function stringify(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v) ?? '';
}

function segments(template: string, values: { parameter: Parameter; value: Value }[]): PlannedRequest['path'] {
  return template.split(/(\{[^}]+\})/).flatMap((part): PlannedRequest['path'] => {
    const match = /^\{([^}]+)\}$/.exec(part);
    if (!match) return part === '' ? [] : [part];
    const found = values.find(({ parameter }) => parameter.in === 'path' && parameter.name === match[1]);
    return [{ value: found?.value ?? '' }];
  });
}

function bodyFor(document: Record<string, any>, operation: Operation, mutation: Mutation): fc.Arbitrary<Pick<PlannedRequest, 'body' | 'contentType'> | undefined> {
  const { schema, mediaType, required } = operation.body!;
  const pooled = poolValue(poolName('body', operation.operationId)).map((ref) => ({ body: { pool: ref }, contentType: mediaType }));
  const generated = validValue(document, schema).map((json) => ({ body: { json }, contentType: mediaType }));
  const fitting = fc.oneof(generated, pooled);
  if (mutation !== 'body') return required ? fitting : fc.option(fitting, { nil: undefined });
  return fc.oneof(
    invalidValue(document, schema).map((json) => ({ body: { json }, contentType: mediaType })),
    fc.constantFrom('{', '{"a":', 'null', '""', '[', '\u0000', '{"a":1}garbage', '[]'.repeat(3000), '['.repeat(5000) + ']'.repeat(5000)).map((raw) => ({ body: { raw }, contentType: mediaType })),
    fc.integer({ min: 17, max: 64 }).map((kb) => ({ body: { raw: JSON.stringify({ padding: 'x'.repeat(kb * 1024) }) }, contentType: mediaType })),
    fc
      .tuple(generated, fc.constantFrom('text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/json; charset=utf-16', 'application/json; charset=latin1', 'application/merge-patch+json', ''))
      .map(([{ body }, contentType]) => ({ body, contentType })),
  );
}

function extraFor(mutation: Mutation): fc.Arbitrary<((request: PlannedRequest) => void) | undefined> {
  if (mutation === 'extra') {
    return fc.tuple(fc.constantFrom('query', 'header'), fc.stringMatching(/^[a-z][a-z0-9_-]{0,15}$/), PRINTABLE_VALUE).map(([where, name, v]) => (request: PlannedRequest) => {
      if (where === 'query') request.query.push([name, v]);
      else request.headers.push([`X-${name}`, v]);
    });
  }
  if (mutation === 'header') {
    return fc
      .constantFrom<[string, string]>(
        ['X-Request-Id', 'not valid!'],
        ['X-Request-Id', 'x'.repeat(300)],
        ['X-Request-Id', ''],
        ['Accept', 'application/xml'],
        ['Accept', 'text/html;q=0, */*;q=0'],
        ['Accept', '*/*'],
        ['Accept-Encoding', 'gzip, br'],
        ['Authorization', 'Bearer'],
        ['Authorization', 'Basic dXNlcjpwYXNz'],
        ['Authorization', `Bearer ${'a'.repeat(3000)}`],
        ['Content-Encoding', 'gzip'],
        ['Content-Encoding', 'identity, compress'],
        ['Cookie', '__Host-aimable_refresh_demo=%zz; =; a'],
        ['Origin', 'https://evil.example'],
        ['Origin', 'null'],
        ['X-Forwarded-For', '1.2.3.4, ::1'],
        ['X-Tenant-Id', 'ünïcode'],
      )
      .map(([name, v]) => (request: PlannedRequest) => {
        request.headers = request.headers.filter(([existing]) => existing.toLowerCase() !== name.toLowerCase());
        request.headers.push([name, v]);
      });
  }
  return fc.constant(undefined);
}

const PRINTABLE_VALUE = fc.string({ unit: 'binary-ascii', maxLength: 40 }).map((text) => text.replace(/[^\x20-\x7e]/g, '_'));

function methodFor(operation: Operation, mutation: Mutation): fc.Arbitrary<string> {
  if (mutation !== 'method') return fc.constant(operation.method);
  return fc.constantFrom(...METHODS.filter((method) => method !== operation.method));
}

function pathFor(mutation: Mutation, all: Operation[]): fc.Arbitrary<PlannedRequest['path'] | undefined> {
  if (mutation !== 'path') return fc.constant(undefined);
  const known = all.map((operation) => operation.path.replace(/\{[^}]+\}/g, 'x'));
  return fc
    .oneof(
      fc.constantFrom(...known).map((path) => `${path}/extra`),
      fc.constantFrom(...known).map((path) => path.toUpperCase()),
      fc.constantFrom(...known).map((path) => path.replace(/\/[^/]*$/, '/%zz')),
      fc.constantFrom('/', '/v1', '/v2/auth/session', '/v1/auth//session', '/v1/auth/oidc//start', '/.well-known/openid-configuration', '/%2e%2e/etc/passwd'),
      fc.stringMatching(/^\/[a-z0-9/._-]{1,40}$/),
    )
    .map((path) => [path]);
}
