import { bff } from '../../../lib/bff';

export const dynamic = 'force-dynamic';

/** The signed-in user, for the page's scripts; never a token. */
export async function GET(request: Request): Promise<Response> {
  const session = await bff().getSession(request);
  if (!session) {
    return Response.json({ type: 'about:blank', title: 'Not signed in.', status: 401, code: 'signed_out' }, { status: 401, headers: { 'Content-Type': 'application/problem+json' } });
  }
  return Response.json({ id: session.user.id, name: session.user.name, email: session.user.email }, { headers: { 'Cache-Control': 'no-store' } });
}
