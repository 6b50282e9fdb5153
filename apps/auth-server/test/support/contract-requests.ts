import { openApiDocument, operations, type OperationDescriptor } from '@aimable/auth-openapi';

/**
 * Requests built from the contract itself, so that they follow it as it
 * grows: an operation's example request (every parameter and body at its
 * example value), and the schemas to break it with.
 */

type Node = Record<string, unknown>;

/** Follows `$ref`s within the contract. */
export function resolve(node: unknown): Node | undefined {
  let current = node as Node | undefined;
  for (let depth = 0; current && typeof current.$ref === 'string' && depth < 8; depth++) {
    const path = (current.$ref as string).replace(/^#\//, '').split('/');
    current = path.reduce<unknown>((at, key) => (at as Node | undefined)?.[key.replace(/~1/g, '/').replace(/~0/g, '~')], openApiDocument) as Node | undefined;
  }
  return current;
}

export interface ContractParameter {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  required: boolean;
  schema: Node;
  example: unknown;
}

export interface ExampleRequest {
  operation: OperationDescriptor;
  method: string;
  path: Record<string, string>;
  query: Record<string, string>;
  headers: Record<string, string>;
  /** The body as sent, with its media type. */
  body?: { contentType: string; text: string };
}

function operationNode(operation: OperationDescriptor): Node {
  const item = (openApiDocument as unknown as { paths: Record<string, Node> }).paths[operation.path]!;
  return item[operation.method] as Node;
}

/** The operation's parameters as the contract declares them (the path item's and its own), `$ref`s resolved. */
export function parametersOf(operation: OperationDescriptor): ContractParameter[] {
  const item = (openApiDocument as unknown as { paths: Record<string, Node> }).paths[operation.path]!;
  const declared = [...((item.parameters as unknown[]) ?? []), ...((operationNode(operation).parameters as unknown[]) ?? [])];
  return declared.map((raw) => {
    const parameter = resolve(raw)!;
    const schema = resolve(parameter.schema) ?? {};
    const examples = schema.examples as unknown[] | undefined;
    return {
      name: parameter.name as string,
      in: parameter.in as ContractParameter['in'],
      required: parameter.required === true,
      schema,
      example: parameter.example ?? schema.example ?? examples?.[0],
    };
  });
}

/** The operation's request body example and media type, if it takes a body and gives an example. */
export function bodyExampleOf(operation: OperationDescriptor): { contentType: string; value: unknown; schema: Node } | undefined {
  const body = resolve(operationNode(operation).requestBody);
  const content = (body?.content ?? {}) as Record<string, Node>;
  const [contentType, media] = Object.entries(content)[0] ?? [];
  if (!contentType || !media) return undefined;
  const examples = media.examples as Record<string, Node> | undefined;
  const value = media.example ?? (examples ? resolve(Object.values(examples)[0])?.value : undefined);
  return value === undefined ? undefined : { contentType, value, schema: resolve(media.schema) ?? {} };
}

/** Encodes a body as its media type says. */
export function encodeBody(contentType: string, value: unknown): string {
  if (contentType === 'application/x-www-form-urlencoded') return new URLSearchParams(value as Record<string, string>).toString();
  return JSON.stringify(value);
}

/** The operation's example request: every parameter at its example value, the body example, and the caller's credentials. */
export function exampleRequest(operation: OperationDescriptor, credentials: { apiKey: string; accessToken: string }): ExampleRequest {
  const request: ExampleRequest = { operation, method: operation.method.toUpperCase(), path: {}, query: {}, headers: {} };
  for (const parameter of parametersOf(operation)) {
    if (parameter.example === undefined || parameter.in === 'cookie') continue;
    const value = String(parameter.example);
    if (parameter.in === 'path') request.path[parameter.name] = value;
    else if (parameter.in === 'query') request.query[parameter.name] = value;
    else request.headers[parameter.name] = value;
  }
  const requirement = operation.security[0] ?? [];
  if (requirement.includes('ApiKey')) request.headers['X-API-Key'] = credentials.apiKey;
  if (requirement.includes('BearerAuth')) request.headers.Authorization = `Bearer ${credentials.accessToken}`;
  const body = bodyExampleOf(operation);
  if (body) request.body = { contentType: body.contentType, text: encodeBody(body.contentType, body.value) };
  return request;
}

/** The request's target: its path with the path parameters in, and its query. */
export function targetOf(request: ExampleRequest): string {
  const path = request.operation.path.replace(/\{([^}]+)\}/g, (_, name: string) => encodeURIComponent(request.path[name] ?? ''));
  const query = new URLSearchParams(request.query).toString();
  return query ? `${path}?${query}` : path;
}

/** Sends a request to a base URL, without following redirects. */
export function sendTo(baseUrl: string, request: ExampleRequest): Promise<Response> {
  const headers = { ...request.headers, ...(request.body ? { 'Content-Type': request.body.contentType } : {}) };
  return fetch(`${baseUrl}${targetOf(request)}`, { method: request.method, headers, body: request.body?.text, redirect: 'manual' });
}

export { operations };
