import type { TestUser } from '../users.js';
import { escapeHtml, renderPage } from './html.js';

export interface LoginPageModel {
  uid: string;
  clientId: string;
  users: readonly TestUser[];
  /** Username to prefill after a failed attempt. */
  username?: string;
  error?: string;
}

export function renderLoginPage(model: LoginPageModel): string {
  const action = `/interaction/${encodeURIComponent(model.uid)}/login`;
  const error = model.error === undefined ? '' : `<p class="error" role="alert">${escapeHtml(model.error)}</p>`;
  // Listing the accounts is deliberate: this is a dev tool and its users are public fixtures.
  const hint = model.users.map((user) => `<code>${escapeHtml(user.username)}</code>`).join(', ');
  const passwordHint = model.users.every((user) => user.password === 'password')
    ? ' Their password is <code>password</code>.'
    : '';

  return renderPage(
    'Sign in - dev-idp',
    `<h1>Sign in</h1>
<p>to <strong>${escapeHtml(model.clientId)}</strong> at the development identity provider.</p>
${error}
<form method="post" action="${escapeHtml(action)}">
<label for="username">Username</label>
<input id="username" name="username" autocomplete="username" required autofocus value="${escapeHtml(model.username ?? '')}">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form>
<p class="hint">Test users: ${hint}.${passwordHint}</p>`,
  );
}
