import { escapeHtml, renderPage } from './html.js';

/**
 * oidc-provider's end-session confirmation, in this provider's look and
 * without its defaults' external fonts. `form` is oidc-provider's own
 * markup (the form `op.logoutForm` with its anti-forgery field): the
 * buttons submit it, `logout=yes` ending the whole provider session.
 */
export function renderLogoutPage(host: string, form: string): string {
  return renderPage(
    'Sign out - dev-idp',
    `<h1>Sign out</h1>
<p>Do you want to sign out of the development identity provider at <strong>${escapeHtml(host)}</strong>?</p>
${form}
<button autofocus type="submit" form="op.logoutForm" value="yes" name="logout">Yes, sign me out</button>
<p></p>
<button type="submit" form="op.logoutForm">No, stay signed in</button>`,
  );
}

/** Where oidc-provider lands a sign-out that names no `post_logout_redirect_uri`. */
export function renderLoggedOutPage(clientId: string | undefined): string {
  const from = clientId === undefined ? '' : ` of <strong>${escapeHtml(clientId)}</strong>`;
  return renderPage('Signed out - dev-idp', `<h1>Signed out</h1>\n<p>You signed out${from} at the development identity provider.</p>`);
}
