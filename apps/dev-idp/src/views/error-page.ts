import { escapeHtml, renderPage } from './html.js';

/** The one error page, shared by oidc-provider's renderError and the interaction routes. */
export function renderErrorPage(error: string, description?: string): string {
  const detail = description === undefined ? '' : `<p>${escapeHtml(description)}</p>`;
  return renderPage('Error - dev-idp', `<h1>Sign-in failed</h1>\n<p class="error"><code>${escapeHtml(error)}</code></p>\n${detail}`);
}
