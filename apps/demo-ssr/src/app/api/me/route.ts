import { accessTokenProblemResponse } from '@aimable/auth-node';
import { bff } from '../../../lib/bff';
import { verifier } from '../../../lib/verifier';

export const dynamic = 'force-dynamic';

/**
 * A protected API route. An API client sends its access token as a bearer
 * token; this app's own pages have none (the tokens stay on the server), so
 * their session's access token is the one checked. Either way the verifier
 * decides, and a request it refuses gets the server's own 401 problem.
 */
export async function GET(request: Request): Promise<Response> {
  const session = request.headers.has('authorization') ? undefined : await bff().getSession(request);
  const checked = session ? new Request(request.url, { headers: { authorization: `Bearer ${session.accessToken}` } }) : request;
  try {
    const claims = await verifier().authenticate(checked);
    const user = session?.user;
    return Response.json(
      { id: claims.sub, session_id: claims.sid, tenant: claims.tenant, ...(user ? { name: user.name, email: user.email } : {}) },
      { headers: { 'Cache-Control': 'no-store' } },
    );
  } catch (error) {
    return accessTokenProblemResponse(error, request);
  }
}
