import { bff } from '../../../lib/bff';

export const dynamic = 'force-dynamic';

/** Sign-in, its callback, sign-out and the session's user: the BFF's routes under /auth. */
export const GET = (request: Request) => bff().handler(request);
export const POST = (request: Request) => bff().handler(request);
