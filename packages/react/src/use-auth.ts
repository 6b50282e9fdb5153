import { useContext } from 'react';
import type { AuthState } from './auth-state.js';
import { AuthContext } from './auth-provider.js';

/** The session, its status and the sign-in actions of the nearest `<AuthProvider>`. */
export function useAuth(): AuthState {
  const state = useContext(AuthContext);
  if (!state) throw new Error('useAuth() is called outside an <AuthProvider>: wrap the app in one.');
  return state;
}
