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

/**
 * The `Prefer` a caller sent, as Prism needs it: an example named alone
 * (`example=refresh_token_reused`) is looked up among the operation's
 * responses and its status added, as Prism looks in the success response
 * only. A status or example the operation does not declare is no scenario
 * the server could play: `undeclared` says which.
 */
export function scenarioPrefer(operation: OperationDescriptor, prefer: string): { prefer: string } | { undeclared: string } {
  const preferences = new Map(
    prefer
      .split(/[,;]/)
      .map((part) => part.trim().split('=', 2) as [string, string | undefined])
      .filter(([name, value]) => name !== '' && value !== undefined)
      .map(([name, value]) => [name.toLowerCase(), value!.replace(/^"|"$/g, '')]),
  );
  const code = preferences.get('code');
  const example = preferences.get('example');
  if (code !== undefined && operation.responses[Number(code)] === undefined) return { undeclared: `${operation.operationId} declares no ${code} response` };
  if (example === undefined) return { prefer };
  const statuses = code === undefined ? Object.keys(operation.responses) : [code];
  const status = statuses.find((candidate) => exampleNamesOf(operation, Number(candidate)).includes(example));
  if (status === undefined) return { undeclared: `${operation.operationId} declares no example named ${example}` };
  return { prefer: code === undefined ? `code=${status}, ${prefer}` : prefer };
}

function exampleNamesOf(operation: OperationDescriptor, status: number): string[] {
  const item = (openApiDocument as unknown as { paths: Record<string, Record<string, Node>> }).paths[operation.path]?.[operation.method];
  const response = resolve((item?.responses as Node | undefined)?.[String(status)]);
  return Object.values((response?.content ?? {}) as Record<string, Node>).flatMap((media) => Object.keys((media.examples ?? {}) as Node));
}
