import { openApiDocument, type OperationDescriptor } from '@aimable/auth-openapi';

/**
 * Scenarios on demand: a request's own `Prefer` header (`code=429`,
 * `example=refresh_token_reused`) picks any response its operation
 * declares, as Prism reads it. Prism serves the example, which may lack a
 * header the contract requires of that response (`Retry-After` on a 429
 * or 503, say): those are filled from the header's own example, so that
 * the answer is one the server could give.
 */
export function missingRequiredHeaders(operation: OperationDescriptor, status: number, present: (name: string) => boolean): Record<string, string> {
  const declared = operation.responses[status];
  if (!declared) return {};
  const filled: Record<string, string> = {};
  for (const header of declared.headers) {
    if (!header.required || present(header.name)) continue;
    const value = headerExample(operation, status, header.name);
    if (value !== undefined) filled[header.name] = value;
  }
  return filled;
}

type Node = Record<string, unknown>;

function resolve(node: unknown): Node | undefined {
  let current = node as Node | undefined;
  for (let depth = 0; current && typeof current.$ref === 'string' && depth < 8; depth++) {
    const path = (current.$ref as string).replace(/^#\//, '').split('/');
    current = path.reduce<unknown>((at, key) => (at as Node | undefined)?.[key.replace(/~1/g, '/').replace(/~0/g, '~')], openApiDocument) as Node | undefined;
  }
  return current;
}

function headerExample(operation: OperationDescriptor, status: number, name: string): string | undefined {
  const item = (openApiDocument as unknown as { paths: Record<string, Record<string, Node>> }).paths[operation.path]?.[operation.method];
  const response = resolve((item?.responses as Node | undefined)?.[String(status)]);
  const headers = (response?.headers ?? {}) as Node;
  const key = Object.keys(headers).find((candidate) => candidate.toLowerCase() === name.toLowerCase());
  const header = key === undefined ? undefined : resolve(headers[key]);
  if (!header) return undefined;
  const examples = header.examples as Record<string, Node> | undefined;
  const example = header.example ?? (examples ? resolve(Object.values(examples)[0])?.value : undefined) ?? (resolve(header.schema)?.const as unknown);
  return example === undefined ? undefined : String(example);
}
