// @vitest-environment node
import { createAuth, memoryStorage } from '@aimable/auth-client';
import { renderToString } from 'react-dom/server';
import { afterEach, expect, test } from 'vitest';

/**
 * A server render, in Node without a DOM: the package is imported and rendered with the browser's
 * globals made to throw when read, as they do not exist there.
 */

const BROWSER_GLOBALS = ['window', 'document', 'location', 'history', 'sessionStorage', 'localStorage'] as const;

afterEach(() => {
  for (const name of BROWSER_GLOBALS) delete (globalThis as Record<string, unknown>)[name];
});

test('When the app is rendered on a server, then it renders loading, SignedIn and SignedOut render nothing, and no browser global is read', async () => {
  const requests: string[] = [];
  const auth = createAuth({
    baseUrl: 'http://localhost:8080',
    tenantId: 'demo',
    apiKey: 'ak_demo',
    storage: memoryStorage(),
    fetch: async (input) => {
      requests.push(String(input));
      return new Response(null, { status: 500 });
    },
  });
  const read: string[] = [];
  for (const name of BROWSER_GLOBALS) {
    Object.defineProperty(globalThis, name, {
      configurable: true,
      get() {
        read.push(name);
        throw new ReferenceError(`${name} is not defined`);
      },
    });
  }

  const { AuthProvider, SignedIn, SignedOut, useAuth } = await import('../src/index.js');
  function Status() {
    const { status, session, user, error } = useAuth();
    return <p>{[status, session, user, error].map(String).join(' ')}</p>;
  }
  const html = renderToString(
    <AuthProvider auth={auth}>
      <Status />
      <SignedIn>signed in</SignedIn>
      <SignedOut>signed out</SignedOut>
    </AuthProvider>,
  );

  expect(read).toEqual([]);
  expect(html).toBe('<p>loading undefined undefined undefined</p>');
  // Nothing is restored on the server: that waits for the browser.
  expect(requests).toEqual([]);
});
