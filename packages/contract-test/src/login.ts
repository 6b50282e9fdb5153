/**
 * Drives a provider's login page as a browser would, for a test user:
 * follows redirects, keeps cookies, fills the form that asks for a
 * password, submits forms without one (consent), until the provider sends
 * the browser to `callbackPrefix`. Enough for the local provider, Keycloak
 * and most plain HTML login forms; not for pages that need scripts.
 */
export async function loginAtProvider(
  authorizationUrl: string,
  callbackPrefix: string,
  credentials: { username: string; password: string } | undefined,
  options: { maxSteps?: number; timeoutMs?: number } = {},
): Promise<string> {
  const jar = new Map<string, string>();
  let request: { url: string; method: 'GET' | 'POST'; body?: URLSearchParams } = { url: authorizationUrl, method: 'GET' };
  let usedPassword = false;
  for (let step = 0; step < (options.maxSteps ?? 12); step += 1) {
    // The callback, by its path: the target may name itself by another host than the one it was reached at.
    if (new URL(request.url).pathname === new URL(callbackPrefix).pathname) return request.url;
    const response = await fetch(request.url, {
      method: request.method,
      redirect: 'manual',
      headers: { Accept: 'text/html', ...(jar.size > 0 ? { Cookie: [...jar].map(([name, value]) => `${name}=${value}`).join('; ') } : {}), ...(request.body ? { 'Content-Type': 'application/x-www-form-urlencoded' } : {}) },
      body: request.body,
      signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
    });
    for (const cookie of response.headers.getSetCookie()) {
      const [pair] = cookie.split(';');
      const at = pair!.indexOf('=');
      if (at > 0) jar.set(`${pair!.slice(0, at).trim()}`, pair!.slice(at + 1).trim());
    }
    const location = response.headers.get('location');
    if (response.status >= 300 && response.status < 400 && location) {
      request = { url: new URL(location, request.url).href, method: 'GET' };
      continue;
    }
    const html = response.status === 200 ? await response.text() : '';
    const form = firstForm(html);
    if (!form) throw new Error(`The provider answered ${response.status} at ${new URL(request.url).origin}${new URL(request.url).pathname}, with no form to go on.`);
    const fields = new URLSearchParams(form.hidden);
    if (form.password) {
      if (!credentials) throw new LoginNeedsCredentials();
      if (usedPassword) throw new Error('The provider asked for the password again: it refused the credentials.');
      usedPassword = true;
      if (form.username) fields.set(form.username, credentials.username);
      fields.set(form.password, credentials.password);
    }
    const action = new URL(form.action || request.url, request.url).href;
    request = form.method === 'GET' ? { url: `${action}${action.includes('?') ? '&' : '?'}${fields}`, method: 'GET' } : { url: action, method: 'POST', body: fields };
  }
  throw new Error('The provider did not send the browser back within a dozen steps.');
}

/** The provider shows a login form, and no credentials were given. */
export class LoginNeedsCredentials extends Error {
  constructor() {
    super('The provider asks for a login: give --user and --password.');
    this.name = 'LoginNeedsCredentials';
  }
}

interface Form {
  action: string;
  method: 'GET' | 'POST';
  hidden: [string, string][];
  username: string | undefined;
  password: string | undefined;
}

function firstForm(html: string): Form | undefined {
  const match = /<form\b([^>]*)>([\s\S]*?)<\/form>/i.exec(html);
  if (!match) return undefined;
  const attributes = match[1]!;
  const inputs = [...match[2]!.matchAll(/<input\b([^>]*)>/gi)].map((input) => ({
    name: attribute(input[1]!, 'name'),
    type: (attribute(input[1]!, 'type') ?? 'text').toLowerCase(),
    value: attribute(input[1]!, 'value') ?? '',
  }));
  return {
    action: decodeEntities(attribute(attributes, 'action') ?? ''),
    method: (attribute(attributes, 'method') ?? 'GET').toUpperCase() === 'POST' ? 'POST' : 'GET',
    hidden: inputs.filter((input) => input.type === 'hidden' && input.name).map((input) => [input.name!, decodeEntities(input.value)]),
    username: inputs.find((input) => ['text', 'email'].includes(input.type) && input.name)?.name,
    password: inputs.find((input) => input.type === 'password' && input.name)?.name,
  };
}

function attribute(source: string, name: string): string | undefined {
  const match = new RegExp(`\\b${name}\\s*=\\s*(?:"([^"]*)"|'([^']*)'|([^\\s>]+))`, 'i').exec(source);
  return match ? (match[1] ?? match[2] ?? match[3]) : undefined;
}

function decodeEntities(text: string): string {
  return text.replace(/&amp;/g, '&').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>');
}
