import type { Client } from '@aimable/auth-openapi/unbound-sdk';

/** What a generated operation hands its client: its path template, method and security, and the caller's inputs. */
type SdkRequest = Parameters<Client['post']>[0];
type SecurityScheme = NonNullable<SdkRequest['security']>[number];

export interface LeanClientOptions {
  /** Without a trailing slash. */
  baseUrl: string;
  fetch: typeof fetch;
  /** Sent with every request; an operation's own headers win. */
  headers: Record<string, string>;
  /** The token for one of an operation's security schemes, or nothing to leave it out. */
  auth: (scheme: SecurityScheme) => string | undefined;
}

/** The answer to a call, as the generated client gives it with `throwOnError: false`: no response means no answer at all. */
export interface CallOutcome {
  data?: unknown;
  error?: unknown;
  response?: Response;
}

const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;

/**
 * A client for the generated SDK that does what sign-in's calls need and no
 * more: the operation's path parameters and query (strings), JSON bodies, the
 * security the contract declares, cookies on every call. The generated fetch
 * client (which `createAuthClient` uses) also carries interceptors, every
 * serialization style, response parsing by media type and server-sent events,
 * which would nearly double the sign-in bundle (7.4 KB against 4.2 KB
 * min+gzip) and take it past its budget.
 */
export function createLeanClient(options: LeanClientOptions): Client {
  // Called as a plain function: a browser's fetch refuses any other `this` than the window ("Illegal invocation").
  const { fetch: fetchFn } = options;
  async function send(method: string, request: SdkRequest): Promise<CallOutcome> {
    let response: Response;
    try {
      const path = request.url.replace(/\{([^{}]+)\}/g, (_, name: string) => encodeURIComponent(String(request.path?.[name])));
      const query = new URLSearchParams();
      for (const [name, value] of Object.entries(request.query ?? {})) if (value !== undefined && value !== null) query.set(name, String(value));
      const headers: Record<string, string> = { ...options.headers };
      for (const [name, value] of Object.entries(request.headers ?? {})) if (value !== undefined && value !== null) headers[name] = String(value);
      if (request.body === undefined) delete headers['Content-Type'];
      for (const scheme of request.security ?? []) {
        const name = scheme.name ?? 'Authorization';
        const token = name in headers ? undefined : options.auth(scheme);
        if (token) headers[name] = scheme.scheme === 'bearer' ? `Bearer ${token}` : token;
      }
      const search = query.toString();
      response = await fetchFn(`${options.baseUrl}${path}${search ? `?${search}` : ''}`, {
        method,
        headers,
        body: request.body === undefined ? undefined : JSON.stringify(request.body),
        // The refresh cookie travels on cross-origin calls too.
        credentials: 'include',
      });
    } catch (error) {
      return { error };
    }
    const text = await response.text();
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = text;
    }
    return response.ok ? { data: body, response } : { error: body, response };
  }

  // The SDK calls its client's method for the operation's verb, and nothing else of it (no config, interceptors or SSE).
  return Object.fromEntries(METHODS.map((method) => [method, (request: SdkRequest) => send(method.toUpperCase(), request)])) as unknown as Client;
}
