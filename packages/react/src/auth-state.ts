import type { AuthApiError, AuthSession, SignInError, SignOutOptions, SignOutResult } from '@aimable/auth-client';

/** `loading` until the session is restored or the callback is finished; then `signed_in` or `signed_out`. */
export type AuthStatus = 'loading' | 'signed_in' | 'signed_out';

/**
 * Why restoring the session or finishing the callback failed: a `SignInError` (the callback's state is
 * unknown or spent, or the provider refused) or an `AuthApiError` (the API's problem, or no answer), both
 * from `@aimable/auth-client`. Any other `Error` means the browser refused what sign-in needs (WebCrypto
 * outside a secure context, storage).
 */
export type AuthError = SignInError | AuthApiError | Error;

/** What `useAuth()` returns. */
export interface AuthState {
  status: AuthStatus;
  session: AuthSession | undefined;
  /** The session's user. */
  user: AuthSession['user'] | undefined;
  /** Set with `status: 'signed_out'` when the provider's restore or callback failed; cleared by the next sign-in or sign-out. */
  error: AuthError | undefined;
  /** Starts a login with the provider and navigates to it; `redirectUri` defaults to this origin and the provider's `callbackPath`. */
  signIn(provider: string, options?: { redirectUri?: string }): Promise<void>;
  /**
   * Ends the session on the server and here, and in the other tabs of this
   * browser; with `{ provider: true }`, at the identity provider too: the
   * page then goes to the provider's sign-out, which sends it back to
   * `postLogoutRedirectUri`.
   */
  signOut(options?: SignOutOptions): Promise<SignOutResult>;
}
