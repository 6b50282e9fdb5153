/** What the fake Apple's page posts to the client: the action (the client's redirect URI) and the fields. */
export interface FormPostResponse {
  action: URL;
  fields: URLSearchParams;
}

/**
 * Test/dev driver for the fake Apple (`fakes.apple`): opens the
 * authorization URL, signs in with the user's credentials, and returns the
 * form the fake's page would post to the client (OAuth 2.0 Form Post
 * Response Mode) WITHOUT posting it, so that callers can post it as is, or
 * change it first.
 */
export async function signInAtApple(authorizationUrl: string, credentials: { username: string; password: string }): Promise<FormPostResponse> {
  const start = new URL(authorizationUrl);
  const signInPage = await fetch(start, { redirect: 'manual' });
  const pageHtml = await signInPage.text();
  if (signInPage.status !== 200) throw new Error(`signInAtApple: the authorization request answered HTTP ${signInPage.status}: ${textOf(pageHtml)}`);
  const request = hiddenFields(pageHtml).get('request');
  if (request === null) throw new Error('signInAtApple: the sign-in page has no pending request');

  const signedIn = await fetch(new URL('/apple/auth/signin', start), {
    method: 'POST',
    body: new URLSearchParams({ request, username: credentials.username, password: credentials.password, action: 'sign-in' }),
    redirect: 'manual',
  });
  const postHtml = await signedIn.text();
  if (signedIn.status === 401) throw new Error(`signInAtApple: the fake refused the credentials of "${credentials.username}" (HTTP 401)`);
  if (signedIn.status !== 200) throw new Error(`signInAtApple: signing in answered HTTP ${signedIn.status}: ${textOf(postHtml)}`);
  const action = /<form method="post" action="([^"]*)"/.exec(postHtml)?.[1];
  if (action === undefined) throw new Error('signInAtApple: the answer is not a form post');
  return { action: new URL(unescapeHtml(action)), fields: hiddenFields(postHtml) };
}

function hiddenFields(html: string): URLSearchParams {
  const fields = new URLSearchParams();
  for (const match of html.matchAll(/<input type="hidden" name="([^"]*)" value="([^"]*)">/g)) fields.append(unescapeHtml(match[1]!), unescapeHtml(match[2]!));
  return fields;
}

const ENTITIES: Record<string, string> = { '&amp;': '&', '&lt;': '<', '&gt;': '>', '&quot;': '"', '&#39;': "'" };

function unescapeHtml(text: string): string {
  return text.replace(/&(amp|lt|gt|quot|#39);/g, (entity) => ENTITIES[entity] ?? entity);
}

function textOf(html: string): string {
  return unescapeHtml(html.replace(/<style[\s\S]*?<\/style>/gi, ' ').replace(/<[^>]+>/g, ' ')).replace(/\s+/g, ' ').trim().slice(0, 300);
}
