import type { AuthClient, Session } from '@aimable/auth-client';
import { useAuth } from '@aimable/auth-react';
import { useCallback, useEffect, useState } from 'react';
import { problem } from './problem.js';

const PAGE_SIZE = 5;

/** The user, the session and its access token's expiry counting down, the user's sessions, and sign-out. */
export function SignedInView({ api }: { api: AuthClient }) {
  const { session, user, signOut } = useAuth();
  if (!session || !user) return null;
  return (
    <>
      <p className="status" data-state="signed-in">
        Signed in as <strong className="user">{user.name ?? user.email ?? user.id}</strong>
      </p>
      <dl>
        <dt>Email</dt>
        <dd className="email">{user.email ?? '—'}</dd>
        <dt>Session</dt>
        <dd className="session-id">{session.session.id}</dd>
        <dt>Access token expires in</dt>
        <dd>
          <ExpiresIn at={session.expiresAt} />
        </dd>
      </dl>
      <h2>Your sessions</h2>
      <Sessions api={api} current={session.session.id} />
      <button className="sign-out" onClick={() => void signOut()}>
        Sign out
      </button>
      {/* Ends the provider's session too: the browser goes to its sign-out page and comes back here. */}
      <button className="sign-out" onClick={() => void signOut({ provider: true, postLogoutRedirectUri: `${window.location.origin}/` })}>
        Sign out everywhere
      </button>
    </>
  );
}

/** Seconds until `at`, counted down each second; a refresh gives a new `at`. */
function ExpiresIn({ at }: { at: number }) {
  const [now, setNow] = useState(Date.now);
  useEffect(() => {
    const tick = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(tick);
  }, []);
  return <span className="expiry">{Math.max(0, Math.round((at - now) / 1000))} s</span>;
}

/** The user's sessions, a page at a time, each but this one with its Revoke button. */
function Sessions({ api, current }: { api: AuthClient; current: string }) {
  const [sessions, setSessions] = useState<Session[]>([]);
  const [cursor, setCursor] = useState<string>();
  const [failure, setFailure] = useState<string>();

  const load = useCallback(
    async (after?: string) => {
      try {
        const { data } = await api.listSessions({ query: { limit: PAGE_SIZE, ...(after ? { cursor: after } : {}) } });
        setSessions((shown) => (after ? [...shown, ...data.data] : data.data));
        setCursor(data.next_cursor ?? undefined);
        setFailure(undefined);
      } catch (error) {
        setFailure(problem(error));
      }
    },
    [api],
  );
  useEffect(() => void load(), [load]);

  const revoke = async (id: string) => {
    try {
      await api.revokeSession({ path: { session_id: id } });
    } catch (error) {
      setFailure(problem(error));
    }
    await load();
  };

  return (
    <>
      <ul className="sessions">
        {sessions.map((item) => (
          <li key={item.id} data-session={item.id}>
            {item.id}
            {item.id === current ? ' (this one)' : ''} · since {new Date(item.created_at).toLocaleString()}
            {item.id !== current && <button onClick={() => void revoke(item.id)}>Revoke</button>}
          </li>
        ))}
      </ul>
      {cursor && <button onClick={() => void load(cursor)}>More sessions</button>}
      {failure && (
        <p className="error" role="alert">
          {failure}
        </p>
      )}
    </>
  );
}
