import { createAuth, memoryStorage, type Auth } from '@aimable/auth-client';

/** Where jsdom puts the page: the app's origin in these tests. */
export const APP_ORIGIN = 'http://localhost:3000';

export interface RecordedClient {
  auth: Auth;
  /** Each request the client sent, as `METHOD path`. */
  sent: string[];
  /** The start's `frontend_redirect_uri`, each time a login started. */
  redirectUris: string[];
  /** The provider pages the client navigated to. */
  opened: string[];
  /** The JSON bodies the client sent, in order. */
  bodies: unknown[];
}

/**
 * A client of the mock's demo tenant, as a tab of the app makes it, whose requests are recorded.
 * `intercept` may hold a request back or change it before it leaves.
 */
export function mockClient(baseUrl: string, intercept: (request: Request) => Request | Promise<Request> = (request) => request): RecordedClient {
  const sent: string[] = [];
  const redirectUris: string[] = [];
  const opened: string[] = [];
  const bodies: unknown[] = [];
  const auth = createAuth({
    baseUrl,
    tenantId: 'demo',
    // A key of the form the mock accepts.
    apiKey: 'ak_mock_demo',
    // The mock's examples have one login state: each client keeps its logins apart from the others'.
    storage: memoryStorage(),
    navigate: (url) => void opened.push(url),
    fetch: async (input, init) => {
      const request = new Request(input, init);
      const url = new URL(request.url);
      sent.push(`${request.method} ${url.pathname}`);
      const redirectUri = url.searchParams.get('frontend_redirect_uri');
      if (redirectUri) redirectUris.push(redirectUri);
      if (request.headers.get('content-type')?.startsWith('application/json')) bodies.push(await request.clone().json());
      return fetch(await intercept(request));
    },
  });
  return { auth, sent, redirectUris, opened, bodies };
}

/** What the provider and the API's callback do in the browser: the URL of the app the browser comes back to. */
export async function returnFromProvider(authorizationUrl: string): Promise<URL> {
  const callback = await fetch(authorizationUrl, { redirect: 'manual' });
  return new URL(callback.headers.get('location')!);
}

/** Puts the page at `url`, as a navigation there would, without leaving jsdom's document. */
export function visit(url: string | URL): void {
  const { pathname, search } = new URL(url, APP_ORIGIN);
  window.history.replaceState(null, '', `${pathname}${search}`);
}

/** The count of one request in what a client sent. */
export function countOf(sent: string[], request: string): number {
  return sent.filter((line) => line === request).length;
}
