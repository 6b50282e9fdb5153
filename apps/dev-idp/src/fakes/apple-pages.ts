import { createHash } from 'node:crypto';
import type { TestUser } from '../users.js';
import { escapeHtml, renderPage } from '../views/html.js';

export interface AppleSignInModel {
  /** The pending authorization request the form continues. */
  request: string;
  clientId: string;
  users: readonly TestUser[];
  username?: string;
  error?: string;
}

/** The fake's sign-in page: username and password, or cancel (Apple then posts `error=user_cancelled_authorize`). */
export function renderAppleSignIn(model: AppleSignInModel): string {
  const error = model.error === undefined ? '' : `<p class="error" role="alert">${escapeHtml(model.error)}</p>`;
  const hint = model.users.map((user) => `<code>${escapeHtml(user.username)}</code>`).join(', ');
  return renderPage(
    'Sign in with Apple - dev-idp',
    `<h1>Sign in with Apple</h1>
<p>to <strong>${escapeHtml(model.clientId)}</strong> at the local fake of Apple.</p>
${error}
<form method="post" action="/apple/auth/signin">
<input type="hidden" name="request" value="${escapeHtml(model.request)}">
<label for="username">Username</label>
<input id="username" name="username" autocomplete="username" required autofocus value="${escapeHtml(model.username ?? '')}">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit" name="action" value="sign-in">Continue</button>
<button type="submit" name="action" value="cancel" formnovalidate>Cancel</button>
</form>
<p class="hint">Test users: ${hint}. Their password is <code>password</code>.</p>`,
  );
}

const SUBMIT_SCRIPT = 'document.forms[0].submit();';

/**
 * OAuth 2.0 Form Post Response Mode: a page whose form posts the
 * response to the client's redirect URI as soon as it loads, as Apple's
 * does. Without scripts, its button does the same.
 */
export function renderFormPost(action: string, fields: Record<string, string>): { html: string; headers: Record<string, string> } {
  const inputs = Object.entries(fields)
    .map(([name, value]) => `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`)
    .join('\n');
  const html = renderPage(
    'Signing in - dev-idp',
    `<form method="post" action="${escapeHtml(action)}">
${inputs}
<noscript><button type="submit">Continue</button></noscript>
</form>
<script>${SUBMIT_SCRIPT}</script>`,
  );
  const scriptHash = createHash('sha256').update(SUBMIT_SCRIPT).digest('base64');
  return {
    html,
    headers: {
      'Content-Type': 'text/html; charset=utf-8',
      'Cache-Control': 'no-store',
      'Content-Security-Policy': `default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-${scriptHash}'; frame-ancestors 'none'`,
    },
  };
}
