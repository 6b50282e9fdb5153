import type { Auth, AuthSession } from '@aimable/auth-client';

export interface PendingCallback {
  finished: Promise<AuthSession>;
  /** Whether a provider has called its `onRedirectCallback` for this callback. */
  redirected: boolean;
}

/**
 * The callback each client is finishing. A callback is redeemed once: the first call spends its state,
 * and a second would fail as `unknown_state`. StrictMode runs a provider's effect twice, and a page may
 * mount two providers: all of them wait on the one redemption of their client.
 */
const callbacks = new WeakMap<Auth, PendingCallback>();

export function finishCallback(auth: Auth): PendingCallback {
  let callback = callbacks.get(auth);
  if (!callback) {
    callback = { finished: auth.handleRedirectCallback(), redirected: false };
    callbacks.set(auth, callback);
  }
  return callback;
}
