export { AuthProvider, type AuthProviderProps } from './auth-provider.js';
export { useAuth } from './use-auth.js';
export { SignedIn, SignedOut } from './signed-in-out.js';
export type { AuthError, AuthState, AuthStatus } from './auth-state.js';
