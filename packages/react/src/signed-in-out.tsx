import type { ReactElement, ReactNode } from 'react';
import { useAuth } from './use-auth.js';

/** Renders its children when signed in; nothing while loading or signed out. */
export function SignedIn({ children }: { children?: ReactNode }): ReactElement | null {
  return useAuth().status === 'signed_in' ? <>{children}</> : null;
}

/** Renders its children when signed out; nothing while loading or signed in. */
export function SignedOut({ children }: { children?: ReactNode }): ReactElement | null {
  return useAuth().status === 'signed_out' ? <>{children}</> : null;
}
