import { headers } from 'next/headers';
import { bff } from '../lib/bff';

export const dynamic = 'force-dynamic';

/** Rendered on the server: the signed-in user's name is in the HTML the server sends, and no token is. */
export default async function Home({ searchParams }: { searchParams: Promise<{ auth_error?: string }> }) {
  const session = await bff().getSession(await headers());
  const { auth_error: error } = await searchParams;
  if (session) {
    return (
      <main>
        <h1>Aimable Auth, rendered on the server</h1>
        <p data-testid="user">
          Signed in as <strong>{session.user.name ?? session.user.email}</strong> ({session.user.email})
        </p>
        <form method="post" action={bff().signOutPath}>
          <button type="submit">Sign out</button>
        </form>
      </main>
    );
  }
  const providers = await bff().providers();
  return (
    <main>
      <h1>Aimable Auth, rendered on the server</h1>
      {error ? <p role="alert">Sign-in failed: {error}</p> : null}
      <p>Signed out.</p>
      <ul>
        {providers.map((provider) => (
          <li key={provider.id}>
            <a href={bff().signInHref(provider.id, '/')}>Sign in with {provider.display_name}</a>
          </li>
        ))}
      </ul>
    </main>
  );
}
