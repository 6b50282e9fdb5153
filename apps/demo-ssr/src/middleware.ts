import { NextResponse, type NextRequest } from 'next/server';

/**
 * Pages under /account need a session: without the session cookie the
 * browser is sent to the home page to sign in, before anything renders.
 * Whether the session is still live is for the page to find out (the
 * store is in the Node process, which middleware does not share).
 */
export function middleware(request: NextRequest) {
  const signedIn = request.cookies.has('aimable_session') || request.cookies.has('__Host-aimable_session');
  if (!signedIn) return NextResponse.redirect(new URL('/', request.url));
  return NextResponse.next();
}

export const config = { matcher: ['/account/:path*'] };
