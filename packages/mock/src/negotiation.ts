import { operations, type OperationDescriptor } from '@aimable/auth-openapi';

interface MockedOperation {
  method: string;
  pattern: RegExp;
  redirectStatus: number | undefined;
  hasSuccess: boolean;
  takesForm: boolean;
}

/**
 * Decides which response Prism should serve, the way the real server does.
 *
 * Prism answers the lowest 2xx it finds unless told otherwise, so a browser
 * navigating to the start operation would get the JSON variant instead of
 * the redirect. The real server redirects unless the request asks for JSON;
 * this maps that rule onto Prism's `Prefer: code=…` header. It reads the
 * contract as data (`@aimable/auth-openapi`), generated once from the spec.
 */
export class ResponseNegotiator {
  readonly #operations: MockedOperation[];

  constructor(contract: readonly OperationDescriptor[] = operations) {
    this.#operations = contract.map((operation) => {
      const statuses = Object.keys(operation.responses).map(Number);
      return {
        method: operation.method.toUpperCase(),
        pattern: pathPattern(operation.path),
        redirectStatus: statuses.filter((s) => s >= 300 && s < 400).sort()[0],
        hasSuccess: statuses.some((s) => s >= 200 && s < 300),
        takesForm: operation.body?.mediaTypes.includes('application/x-www-form-urlencoded') ?? false,
      };
    });
  }

  /**
   * Where the contract routes a request: to an operation, to no path
   * (`404`), or to a path that does not take the method (`405`, with what
   * `Allow` lists). HEAD goes where GET goes.
   */
  route(method: string, url: string): { kind: 'operation' } | { kind: 'not_found' } | { kind: 'method_not_allowed'; allow: string } {
    const path = url.split('?', 1)[0] ?? url;
    const onPath = this.#operations.filter((o) => o.pattern.test(path));
    const wanted = method === 'HEAD' ? 'GET' : method;
    if (onPath.some((o) => o.method === wanted)) return { kind: 'operation' };
    if (onPath.length === 0) return { kind: 'not_found' };
    return { kind: 'method_not_allowed', allow: onPath.flatMap((o) => (o.method === 'GET' ? ['GET', 'HEAD'] : [o.method])).join(', ') };
  }

  /** Whether the operation a request goes to takes a form body (`application/x-www-form-urlencoded`). */
  takesForm(method: string, url: string): boolean {
    const path = url.split('?', 1)[0] ?? url;
    return this.#operations.some((o) => o.method === method && o.pattern.test(path) && o.takesForm);
  }

  /** The `Prefer` header to add, or undefined to leave Prism's choice. */
  preferFor(method: string, url: string, accept: string | undefined): string | undefined {
    const path = url.split('?', 1)[0] ?? url;
    const operation = this.#operations.find((o) => o.method === method && o.pattern.test(path));
    if (!operation || operation.redirectStatus === undefined) return undefined;
    const wantsJson = /\bapplication\/(?:[\w.+-]+\+)?json\b/i.test(accept ?? '');
    if (operation.hasSuccess && wantsJson) return undefined;
    return `code=${operation.redirectStatus}`;
  }
}

function pathPattern(template: string): RegExp {
  const source = template
    .split(/(\{[^}]+\})/)
    .map((part) => (part.startsWith('{') ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${source}$`);
}
