import type { OperationDescriptor } from '@aimable/auth-openapi';
import { bodyExampleOf, encodeBody, exampleRequest, operations, parametersOf, targetOf, type ContractParameter, type ExampleRequest } from './contract-requests.js';

/**
 * Invalid and edge requests, made from the contract: each operation's
 * example request broken one way at a time (a required parameter left
 * out, a value of the wrong type, too long, off its pattern or enum, an
 * unknown query parameter, a broken body, a missing or wrong credential),
 * so that the corpus follows the contract as operations are added.
 */
export interface ParityCase {
  name: string;
  request: ExampleRequest;
  /** A request target sent as is, in place of the request's own. */
  target?: string;
}

/** Stands for the access token in a case; replaced when it is sent. */
export const ACCESS_TOKEN = '{access_token}';
export const API_KEY_PLACEHOLDER = '{api_key}';

function clone(request: ExampleRequest): ExampleRequest {
  return { ...request, path: { ...request.path }, query: { ...request.query }, headers: { ...request.headers }, ...(request.body ? { body: { ...request.body } } : {}) };
}

function place(request: ExampleRequest, parameter: ContractParameter, value: string | undefined): ExampleRequest {
  const changed = clone(request);
  const bag = parameter.in === 'path' ? changed.path : parameter.in === 'query' ? changed.query : changed.headers;
  if (value === undefined) delete bag[parameter.name];
  else bag[parameter.name] = value;
  return changed;
}

/** Values the parameter's schema refuses, each with what is wrong with it. */
function refusedValues(parameter: ContractParameter): [string, string][] {
  const schema = parameter.schema;
  const values: [string, string][] = [];
  if (schema.type === 'integer') values.push(['not an integer', 'abc']);
  if (typeof schema.maximum === 'number') values.push(['over its maximum', String(schema.maximum + 1)]);
  if (typeof schema.minimum === 'number') values.push(['under its minimum', String(schema.minimum - 1)]);
  if (typeof schema.maxLength === 'number') values.push(['one character too long', 'a'.repeat(schema.maxLength + 1)]);
  if (schema.minLength === 1 && parameter.in !== 'path') values.push(['empty', '']);
  if (typeof schema.pattern === 'string') values.push(['off its pattern', '!\u00e9!']);
  if (Array.isArray(schema.enum)) values.push(['outside its enum', 'not-one-of-them']);
  return values;
}

function operationCases(operation: OperationDescriptor): ParityCase[] {
  const base = exampleRequest(operation, { apiKey: API_KEY_PLACEHOLDER, accessToken: ACCESS_TOKEN });
  const id = operation.operationId;
  const cases: ParityCase[] = [];
  for (const parameter of parametersOf(operation)) {
    if (parameter.in === 'cookie') continue;
    if (parameter.required && parameter.in !== 'path') cases.push({ name: `${id}: without ${parameter.in} ${parameter.name}`, request: place(base, parameter, undefined) });
    // Cursors are opaque, but a client can send one the server never issued.
    if (parameter.in === 'query' && parameter.name === 'cursor') cases.push({ name: `${id}: a cursor the server did not issue`, request: place(base, parameter, 'e30') });
    for (const [what, value] of refusedValues(parameter)) {
      cases.push({ name: `${id}: ${parameter.in} ${parameter.name} ${what}`, request: place(base, parameter, value) });
    }
  }
  if (operation.unknownQueryParameters === 'refuse') cases.push({ name: `${id}: an unknown query parameter`, request: { ...clone(base), query: { ...base.query, unexpected: '1' } } });
  const requirement = operation.security[0] ?? [];
  if (requirement.includes('ApiKey')) {
    const { 'X-API-Key': _key, ...rest } = base.headers;
    cases.push({ name: `${id}: without X-API-Key`, request: { ...clone(base), headers: rest } });
    cases.push({ name: `${id}: an X-API-Key of no tenant`, request: { ...clone(base), headers: { ...base.headers, 'X-API-Key': 'ak_live_of_nobody_5f1e' } } });
  }
  if (requirement.includes('BearerAuth')) {
    const { Authorization: _token, ...rest } = base.headers;
    cases.push({ name: `${id}: without an access token`, request: { ...clone(base), headers: rest } });
    cases.push({ name: `${id}: an access token that is no JWT`, request: { ...clone(base), headers: { ...base.headers, Authorization: 'Bearer not-a-token' } } });
  }
  const body = bodyExampleOf(operation);
  if (body) {
    const broken = (name: string, contentType: string, text: string) => cases.push({ name: `${id}: ${name}`, request: { ...clone(base), body: { contentType, text } } });
    if (body.contentType === 'application/json') broken('a body that is not JSON', 'application/json', '{"code":');
    broken('a body of another media type', 'text/plain', 'hello');
    // Only a body with required fields can lack them: an empty one is, for another (logout's), a request that succeeds.
    if (Array.isArray(body.schema.required) && body.schema.required.length > 0) broken('a body without its required fields', body.contentType, encodeBody(body.contentType, {}));
    // A schema that leaves other fields open (a provider's form post) takes them; only a closed one refuses them.
    if (body.schema.additionalProperties === false) broken('a body with a field the schema lacks', body.contentType, encodeBody(body.contentType, { ...(body.value as object), unexpected: 'x' }));
    broken('a body over 16 KiB', body.contentType, encodeBody(body.contentType, { ...(body.value as object), padding: 'x'.repeat(17_000) }));
  }
  const otherMethod = operation.method === 'delete' ? 'PATCH' : 'PUT';
  cases.push({ name: `${id}: a method the path does not take`, request: { ...clone(base), method: otherMethod } });
  return cases;
}

/** What testers found the mock answered unlike the server, kept as cases. */
function handPicked(): ParityCase[] {
  const byId = (id: string) => operations.find((operation) => operation.operationId === id)!;
  const start = exampleRequest(byId('startOidcLogin'), { apiKey: API_KEY_PLACEHOLDER, accessToken: ACCESS_TOKEN });
  const callback = exampleRequest(byId('handleOidcCallback'), { apiKey: API_KEY_PLACEHOLDER, accessToken: ACCESS_TOKEN });
  const session = exampleRequest(byId('createSession'), { apiKey: API_KEY_PLACEHOLDER, accessToken: ACCESS_TOKEN });
  const { 'X-Tenant-Id': _tenant, ...startHeaders } = start.headers;
  const { tenant: _query, ...startQuery } = start.query;
  const { code_challenge: _challenge, code_challenge_method: _method, ...withoutPkce } = start.query;
  return [
    { name: 'start: neither X-Tenant-Id nor tenant', request: { ...clone(start), headers: startHeaders, query: startQuery } },
    { name: 'start: X-Tenant-Id and tenant that differ', request: { ...clone(start), query: { ...start.query, tenant: 'other' } } },
    { name: 'start: without code_challenge', request: { ...clone(start), query: withoutPkce } },
    { name: 'start: a frontend_redirect_uri with a control character', request: { ...clone(start), query: { ...start.query, frontend_redirect_uri: 'http://localhost:5173/a\u0001b' } } },
    { name: 'start: a frontend_redirect_uri outside ASCII', request: { ...clone(start), query: { ...start.query, frontend_redirect_uri: 'http://localhost:5173/caf\u00e9' } } },
    { name: 'callback: a frontend_redirect_uri with a control character', request: { ...clone(callback), query: { ...callback.query, frontend_redirect_uri: 'http://localhost:5173/a\u0001b' } } },
    { name: 'callback: a frontend_redirect_uri outside ASCII', request: { ...clone(callback), query: { ...callback.query, frontend_redirect_uri: 'http://localhost:5173/caf\u00e9' } } },
    { name: 'createSession: an empty Idempotency-Key', request: { ...clone(session), headers: { ...session.headers, 'Idempotency-Key': '' } } },
    { name: 'createSession: a malformed body', request: { ...clone(session), body: { contentType: 'application/json', text: '{"code": "c", "state":' } } },
    { name: 'a path outside the contract', request: clone(start), target: '/v1/nothing-here' },
    { name: 'a path parameter that is not percent-encoding', request: clone(start), target: `/v1/auth/oidc/%zz/start?${new URLSearchParams(start.query)}` },
    { name: 'a URL over the header limit', request: { ...clone(start), query: { ...start.query, frontend_redirect_uri: `http://localhost:5173/${'a'.repeat(20_000)}` } } },
  ];
}

/** The whole corpus: the contract's cases, then the hand-picked ones. */
export function parityCorpus(): ParityCase[] {
  return [...operations.flatMap(operationCases), ...handPicked()];
}

/** Sends a case to a base URL with the caller's credentials in place of their placeholders. */
export function sendCase(baseUrl: string, parityCase: ParityCase, credentials: { apiKey: string; accessToken: string }): Promise<Response> {
  const { request } = parityCase;
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) headers[name] = value.replace(API_KEY_PLACEHOLDER, credentials.apiKey).replace(ACCESS_TOKEN, credentials.accessToken);
  if (request.body) headers['Content-Type'] = request.body.contentType;
  return fetch(`${baseUrl}${parityCase.target ?? targetOf(request)}`, { method: request.method, headers, body: request.body?.text, redirect: 'manual' });
}
