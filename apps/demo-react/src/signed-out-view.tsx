import type { Auth, ProviderInfo } from '@aimable/auth-client';
import { useAuth } from '@aimable/auth-react';
import { useEffect, useState } from 'react';
import { problem } from './problem.js';

/** The sign-in buttons, one per provider of the tenant, and why the last sign-in failed. */
export function SignedOutView({ auth }: { auth: Auth }) {
  const { error, signIn } = useAuth();
  const [providers, setProviders] = useState<ProviderInfo[]>([]);
  const [failure, setFailure] = useState<string>();

  useEffect(() => {
    // A failed callback leaves the browser on the callback's path: the page is the app's start again.
    if (window.location.pathname === '/auth/callback') window.history.replaceState(null, '', '/');
    auth.providers().then(
      (list) => setProviders(list.data),
      (cause: unknown) => setFailure(problem(cause)),
    );
  }, [auth]);

  const message = failure ?? (error && problem(error));
  return (
    <>
      <p className="status" data-state="signed-out">
        You are signed out.
      </p>
      {message && (
        <p className="error" role="alert">
          {message}
        </p>
      )}
      <div className="providers">
        {providers.map((provider) => (
          <button key={provider.id} data-provider={provider.id} onClick={() => void signIn(provider.id).catch((cause: unknown) => setFailure(problem(cause)))}>
            Sign in with {provider.display_name}
          </button>
        ))}
      </div>
    </>
  );
}
