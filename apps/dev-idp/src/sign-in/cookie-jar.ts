interface StoredCookie {
  name: string;
  value: string;
  path: string;
  /** Epoch milliseconds; undefined for a session cookie. */
  expiresAt: number | undefined;
}

/**
 * Just enough of RFC 6265 to drive oidc-provider from fetch: one origin,
 * Path scoping and expiry. oidc-provider depends on Path: its interaction
 * cookies are scoped to `/interaction/<uid>` and `/auth/<uid>`, and several of
 * them share a name.
 */
export class CookieJar {
  readonly #cookies = new Map<string, StoredCookie>();

  /** Records the Set-Cookie headers of a response to `url`. */
  store(url: URL, setCookieHeaders: readonly string[]): void {
    for (const header of setCookieHeaders) {
      const cookie = parseSetCookie(header, url);
      if (cookie === undefined) continue;
      const key = `${cookie.path}\n${cookie.name}`;
      if (cookie.expiresAt !== undefined && cookie.expiresAt <= Date.now()) {
        this.#cookies.delete(key);
      } else {
        this.#cookies.set(key, cookie);
      }
    }
  }

  /** The Cookie header for a request to `url`, or undefined when no cookie applies. */
  headerFor(url: URL): string | undefined {
    const now = Date.now();
    const matching = [...this.#cookies.values()]
      .filter((cookie) => (cookie.expiresAt === undefined || cookie.expiresAt > now) && pathMatches(url.pathname, cookie.path))
      // RFC 6265 §5.4: longer paths first.
      .sort((a, b) => b.path.length - a.path.length);
    return matching.length === 0 ? undefined : matching.map((cookie) => `${cookie.name}=${cookie.value}`).join('; ');
  }
}

function parseSetCookie(header: string, url: URL): StoredCookie | undefined {
  const [pair = '', ...attributes] = header.split(';');
  const separator = pair.indexOf('=');
  if (separator <= 0) return undefined;

  const cookie: StoredCookie = {
    name: pair.slice(0, separator).trim(),
    value: pair.slice(separator + 1).trim(),
    path: defaultPath(url.pathname),
    expiresAt: undefined,
  };
  let maxAgeSeen = false;
  for (const attribute of attributes) {
    const [rawName = '', ...rest] = attribute.split('=');
    const name = rawName.trim().toLowerCase();
    const value = rest.join('=').trim();
    if (name === 'path' && value.startsWith('/')) {
      cookie.path = value;
    } else if (name === 'max-age' && /^-?\d+$/.test(value)) {
      // §5.3 step 3: Max-Age wins over Expires.
      cookie.expiresAt = Date.now() + Number(value) * 1000;
      maxAgeSeen = true;
    } else if (name === 'expires' && !maxAgeSeen) {
      const expiresAt = Date.parse(value);
      if (!Number.isNaN(expiresAt)) cookie.expiresAt = expiresAt;
    }
  }
  return cookie;
}

// RFC 6265 §5.1.4: the default path is the request path up to, not including, its last '/'.
function defaultPath(requestPath: string): string {
  const lastSlash = requestPath.lastIndexOf('/');
  return lastSlash <= 0 ? '/' : requestPath.slice(0, lastSlash);
}

// RFC 6265 §5.1.4 path-match.
function pathMatches(requestPath: string, cookiePath: string): boolean {
  if (requestPath === cookiePath) return true;
  if (!requestPath.startsWith(cookiePath)) return false;
  return cookiePath.endsWith('/') || requestPath.charAt(cookiePath.length) === '/';
}
