import type { Auth, AuthSession } from '@aimable/auth-client';
import { createContext, useCallback, useEffect, useMemo, useRef, useState, type ReactElement, type ReactNode } from 'react';
import type { AuthError, AuthState, AuthStatus } from './auth-state.js';
import { finishCallback } from './finish-callback.js';

export const AuthContext = createContext<AuthState | undefined>(undefined);

export interface AuthProviderProps {
  /** The client, made once with `createAuth` outside the component: a new one on each render would start over. */
  auth: Auth;
  /** The path of the redirect URI, where the provider sends the browser back. Default: `/auth/callback`. */
  callbackPath?: string;
  /** Called once the callback has made the session. Default: replaces the URL with `/`. */
  onRedirectCallback?: (session: AuthSession) => void;
  children?: ReactNode;
}

interface Snapshot {
  status: AuthStatus;
  session?: AuthSession;
  error?: AuthError;
}

const LOADING: Snapshot = { status: 'loading' };

function returnHome(): void {
  window.history.replaceState(null, '', '/');
}

/**
 * Gives its children the session through `useAuth()`. On mount it restores the session or, on
 * `callbackPath`, finishes the login, then follows the client's state changes (a refresh, a sign-out,
 * here or in another tab). It reads `window` in effects and handlers only: a server renders it `loading`.
 */
export function AuthProvider({ auth, callbackPath = '/auth/callback', onRedirectCallback = returnHome, children }: AuthProviderProps): ReactElement {
  const [snapshot, setSnapshot] = useState(LOADING);
  const redirect = useRef(onRedirectCallback);
  useEffect(() => {
    redirect.current = onRedirectCallback;
  });

  useEffect(() => {
    // StrictMode's first run is cleaned up before its work settles: only the live run touches the state.
    let live = true;
    setSnapshot(LOADING);
    const settle = (error?: unknown) => {
      if (!live) return;
      const next: Snapshot = auth.session ? { status: 'signed_in', session: auth.session } : { status: 'signed_out', error: error as AuthError | undefined };
      // A restore reports its session twice, as an event and as its result: the second renders nothing new.
      setSnapshot((shown) => (shown.status === next.status && shown.session === next.session && shown.error === next.error ? shown : next));
    };
    const unsubscribe = auth.onAuthStateChange(() => settle());
    if (window.location.pathname === callbackPath) {
      const callback = finishCallback(auth);
      callback.finished.then(
        (session) => {
          if (!live) return;
          try {
            if (!callback.redirected) {
              callback.redirected = true;
              redirect.current(session);
            }
          } finally {
            // The app's own onRedirectCallback may throw: the status is settled all the same.
            settle();
          }
        },
        settle,
      );
    } else {
      auth.restore().then(() => settle(), settle);
    }
    return () => {
      live = false;
      unsubscribe();
    };
  }, [auth, callbackPath]);

  const signIn = useCallback<AuthState['signIn']>(
    (provider, options) => auth.signIn(provider, { redirectUri: options?.redirectUri ?? `${window.location.origin}${callbackPath}` }),
    [auth, callbackPath],
  );
  const signOut = useCallback<AuthState['signOut']>((options) => auth.signOut(options), [auth]);
  const state = useMemo<AuthState>(
    () => ({ status: snapshot.status, session: snapshot.session, user: snapshot.session?.user, error: snapshot.error, signIn, signOut }),
    [snapshot, signIn, signOut],
  );
  return <AuthContext.Provider value={state}>{children}</AuthContext.Provider>;
}
