import { headers } from 'next/headers';
import { redirect } from 'next/navigation';
import { bff } from '../../lib/bff';

export const dynamic = 'force-dynamic';

/** A protected page: the middleware turns away a browser without a session cookie, and this page one whose session is over. */
export default async function Account() {
  const session = await bff().getSession(await headers());
  if (!session) redirect('/');
  return (
    <main>
      <h1>Account</h1>
      <p>
        {session.user.name}, your session {session.session.id} ends at {session.session.expires_at}.
      </p>
      <p>
        <a href="/">Home</a>
      </p>
    </main>
  );
}
