import { signInAt } from '@aimable/dev-idp';

/**
 * What a browser does with the app, over HTTP: it keeps the cookies the
 * app sets (and says which a script could read), follows no redirect by
 * itself, and records every body and cookie the app sent it, to look for
 * tokens in.
 */
export class Browser {
  readonly cookies = new Map<string, { value: string; httpOnly: boolean }>();
  readonly received: string[] = [];

  constructor(readonly appUrl: string) {}

  get cookieHeader(): string {
    return [...this.cookies].map(([name, { value }]) => `${name}=${value}`).join('; ');
  }

  /** A request to the app, with its cookies; `Origin` is the app's on POST, as a browser sends it from the app's page. */
  async request(path: string, init: { method?: string; headers?: Record<string, string> } = {}): Promise<Response> {
    const method = init.method ?? 'GET';
    const headers: Record<string, string> = { ...(this.cookies.size > 0 ? { Cookie: this.cookieHeader } : {}), ...(method === 'POST' ? { Origin: this.appUrl } : {}), ...init.headers };
    const response = await fetch(new URL(path, this.appUrl), { method, headers, redirect: 'manual' });
    for (const cookie of response.headers.getSetCookie()) {
      this.received.push(cookie);
      const [pair = '', ...attributes] = cookie.split(';').map((part) => part.trim());
      const at = pair.indexOf('=');
      const [name, value] = [pair.slice(0, at), pair.slice(at + 1)];
      const maxAge = attributes.find((attribute) => attribute.toLowerCase().startsWith('max-age='));
      if (value === '' || maxAge === 'Max-Age=0') this.cookies.delete(name);
      else this.cookies.set(name, { value, httpOnly: attributes.some((attribute) => attribute.toLowerCase() === 'httponly') });
    }
    const body = await response.clone().text();
    this.received.push(body);
    return response;
  }

  /** Sign in with the local provider as `username`: the app's sign-in link, the provider's page, Aimable's callback, the app's callback. */
  async signIn(username = 'ada', returnTo = '/'): Promise<Response> {
    const start = await this.request(`/auth/sign-in/dev?return_to=${encodeURIComponent(returnTo)}`);
    if (start.status !== 303) throw new Error(`sign-in start answered ${start.status}: ${await start.text()}`);
    const providerReturn = await signInAt(start.headers.get('location')!, { username, password: 'password' });
    const aimableCallback = await fetch(providerReturn, { redirect: 'manual' });
    const appCallback = new URL(aimableCallback.headers.get('location')!);
    if (appCallback.origin !== this.appUrl) throw new Error(`Aimable's callback sent the browser to ${appCallback.href}`);
    return this.request(appCallback.pathname + appCallback.search);
  }
}
