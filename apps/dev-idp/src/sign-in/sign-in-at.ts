import { INTERACTION_PATH_PREFIX } from '../interactions/interaction-routes.js';
import { CookieJar } from './cookie-jar.js';

// authorize -> login page -> login POST -> resume -> consent -> resume -> client is 6; leave room for retries.
const MAX_STEPS = 12;

type Step = { method: 'GET'; url: URL } | { method: 'POST'; url: URL; form: URLSearchParams };

/**
 * Test/dev driver: given an authorization URL of this provider, performs the login over
 * plain HTTP with fetch and a small in-memory cookie jar (redirect: 'manual', following
 * 302/303 itself), submits the login form with the user's credentials, passes consent
 * if asked, and returns the final redirect URL pointing at the client's redirect_uri
 * (the URL carrying code, state and iss) WITHOUT requesting it.
 *
 * When the provider answers the client with an OAuth error (`error` instead of
 * `code`), that redirect is returned as well, so callers can test their error handling.
 *
 * Throws a clear Error when the credentials are refused (include the HTTP status) or the flow breaks.
 *
 * `options.cookies` keeps the provider's cookies across calls, as one browser
 * would: a later sign-in with the same jar finds the provider's session, and
 * `signOutAt` ends it.
 */
export async function signInAt(
  authorizationUrl: string,
  credentials: { username: string; password: string },
  options: { cookies?: CookieJar } = {},
): Promise<URL> {
  const start = new URL(authorizationUrl);
  const isClientRedirect = clientRedirectMatcher(start);
  const jar = options.cookies ?? new CookieJar();
  let step: Step = { method: 'GET', url: start };
  let loginSubmitted = false;

  for (let count = 0; count < MAX_STEPS; count += 1) {
    const response = await send(step, jar);
    const body = await response.text();

    if (response.status === 302 || response.status === 303) {
      const location = response.headers.get('location');
      if (location === null) throw new Error(`signInAt: ${describe(step)} redirected without a Location header`);
      const next: URL = new URL(location, step.url);
      if (isClientRedirect(next)) return next;
      step = { method: 'GET', url: next };
      continue;
    }

    if (step.method === 'POST' && response.status === 401) {
      throw new Error(`signInAt: dev-idp refused the credentials of "${credentials.username}" (HTTP 401)`);
    }

    const isLoginPage = step.method === 'GET' && response.status === 200 && step.url.pathname.startsWith(INTERACTION_PATH_PREFIX);
    if (isLoginPage && !loginSubmitted) {
      loginSubmitted = true;
      step = {
        method: 'POST',
        url: new URL(`${step.url.pathname}/login`, step.url),
        form: new URLSearchParams({ username: credentials.username, password: credentials.password }),
      };
      continue;
    }
    if (isLoginPage) {
      throw new Error(`signInAt: dev-idp asked for a login again after accepting "${credentials.username}"`);
    }

    throw new Error(`signInAt: ${describe(step)} answered HTTP ${response.status}: ${summarize(body)}`);
  }
  throw new Error(`signInAt: no redirect to the client after ${MAX_STEPS} requests`);
}

/**
 * Test/dev driver of an RP-initiated sign-out: opens the provider's
 * end-session URL with the browser's cookies, answers the confirmation page
 * with "Yes, sign me out" (or submits the page the provider posts by itself
 * when it has no session), and returns where the provider then sends the
 * browser (the `post_logout_redirect_uri`, or its own signed-out page),
 * WITHOUT requesting it.
 */
export async function signOutAt(endSessionUrl: string, options: { cookies?: CookieJar } = {}): Promise<URL> {
  const jar = options.cookies ?? new CookieJar();
  const url = new URL(endSessionUrl);
  const page = await send({ method: 'GET', url }, jar);
  const html = await page.text();
  if (page.status !== 200) throw new Error(`signOutAt: GET ${url.origin}${url.pathname} answered HTTP ${page.status}: ${summarize(html)}`);
  const form = /<form\b[^>]*\baction="([^"]+)"[^>]*>([\s\S]*?)<\/form>/i.exec(html);
  if (!form) throw new Error(`signOutAt: the end-session page has no form: ${summarize(html)}`);
  const fields = new URLSearchParams();
  for (const input of form[2]!.matchAll(/<input\b[^>]*\bname="([^"]+)"[^>]*\bvalue="([^"]*)"/gi)) fields.set(input[1]!, decodeEntities(input[2]!));
  fields.set('logout', 'yes');
  const confirm = await send({ method: 'POST', url: new URL(decodeEntities(form[1]!), url), form: fields }, jar);
  const location = confirm.headers.get('location');
  if ((confirm.status !== 302 && confirm.status !== 303) || location === null) {
    throw new Error(`signOutAt: the sign-out confirmation answered HTTP ${confirm.status}: ${summarize(await confirm.text())}`);
  }
  return new URL(location, url);
}

function decodeEntities(text: string): string {
  return text.replace(/&(amp|lt|gt|quot|#39);/g, (entity) => ENTITIES[entity] ?? entity);
}

async function send(step: Step, jar: CookieJar): Promise<Response> {
  const headers: Record<string, string> = {};
  const cookie = jar.headerFor(step.url);
  if (cookie !== undefined) headers['cookie'] = cookie;

  let response: Response;
  try {
    response =
      step.method === 'GET'
        ? await fetch(step.url, { headers, redirect: 'manual' })
        : await fetch(step.url, { method: 'POST', headers, body: step.form, redirect: 'manual' });
  } catch (error) {
    throw new Error(`signInAt: ${describe(step)} failed: ${(error as Error).message}`, { cause: error });
  }
  jar.store(step.url, response.headers.getSetCookie());
  return response;
}

/**
 * The flow ends at the first redirect to the client's redirect_uri. Without a
 * redirect_uri parameter (allowed when the client registered exactly one),
 * leaving the provider's origin is the signal instead.
 */
function clientRedirectMatcher(authorizationUrl: URL): (url: URL) => boolean {
  const redirectUri = authorizationUrl.searchParams.get('redirect_uri');
  if (redirectUri === null) return (url) => url.origin !== authorizationUrl.origin;
  const target = new URL(redirectUri);
  return (url) => url.origin === target.origin && url.pathname === target.pathname;
}

function describe(step: Step): string {
  return `${step.method} ${step.url.origin}${step.url.pathname}`;
}

const ENTITIES: Record<string, string> = { '&amp;': '&', '&lt;': '<', '&gt;': '>', '&quot;': '"', '&#39;': "'" };

// Enough of an HTML or JSON error body to see what went wrong, without dumping a page into a test failure.
function summarize(body: string): string {
  const text = body
    .replace(/<style[\s\S]*?<\/style>/gi, ' ')
    .replace(/<[^>]+>/g, ' ')
    .replace(/&(amp|lt|gt|quot|#39);/g, (entity) => ENTITIES[entity] ?? entity)
    .replace(/\s+/g, ' ')
    .trim();
  return text.length > 300 ? `${text.slice(0, 300)}…` : text || '(empty body)';
}
