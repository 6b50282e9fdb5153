/**
 * Whether an unsafe request (POST) comes from the app's own pages. A
 * browser sends `Origin` on every cross-origin POST and on same-origin
 * ones too (Fetch standard, "append a request `Origin` header"); where a
 * proxy strips it, `Sec-Fetch-Site` says where the request came from. A
 * request with neither is refused: a browser that sends neither is too old
 * to protect, and a script outside a browser has no business signing
 * someone out through the app.
 *
 * SameSite=Lax already keeps the session cookie off cross-site POSTs; this
 * check also refuses sibling subdomains (same site, other origin), which
 * SameSite does not.
 */
export function isSameOriginRequest(request: Request, appOrigin: string): boolean {
  const origin = request.headers.get('origin');
  if (origin !== null) return origin === appOrigin;
  return request.headers.get('sec-fetch-site') === 'same-origin';
}
