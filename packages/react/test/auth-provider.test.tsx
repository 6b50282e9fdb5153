import { AuthApiError, SignInError, type AuthSession } from '@aimable/auth-client';
import { startMock, type RunningMock } from '@aimable/auth-mock';
import { act, cleanup, fireEvent, render, screen, waitFor } from '@testing-library/react';
import { Component, StrictMode, version, type ReactNode } from 'react';
import { version as domVersion } from 'react-dom';
import { afterAll, afterEach, beforeAll, describe, expect, inject, test, vi } from 'vitest';
import { AuthProvider, SignedIn, SignedOut, useAuth, type AuthState } from '../src/index.js';
import { APP_ORIGIN, countOf, mockClient, returnFromProvider, visit, type RecordedClient } from './support/mock-client.js';

/**
 * The provider, the hook and the two components in jsdom, against the mock of the API over HTTP:
 * the loading state, the callback finished once under StrictMode, its failures, and a sign-out in
 * another tab.
 */

const REDEEM = 'POST /v1/auth/oidc/session';
let mock: RunningMock;

beforeAll(async () => {
  mock = await startMock({ port: 0 });
});

afterAll(() => mock?.close());

afterEach(() => {
  cleanup();
  visit('/');
});

/** What the page shows, and the last state the hook gave it. */
function page() {
  const seen: { state?: AuthState } = {};
  function Page({ name = 'page' }: { name?: string }) {
    const state = useAuth();
    seen.state = state;
    return (
      <section aria-label={name}>
        <p>status: {state.status}</p>
        <SignedIn>
          <p>Hello {state.user?.email}</p>
          <button onClick={() => void state.signOut()}>Sign out</button>
        </SignedIn>
        <SignedOut>
          <button onClick={() => void state.signIn('google')}>Sign in</button>
        </SignedOut>
      </section>
    );
  }
  return { Page, seen };
}

/** Records what a render throws: nothing should reach it. */
class Boundary extends Component<{ children: ReactNode; caught: unknown[] }, { failed: boolean }> {
  override state = { failed: false };
  static getDerivedStateFromError() {
    return { failed: true };
  }
  override componentDidCatch(error: unknown) {
    this.props.caught.push(error);
  }
  override render() {
    return this.state.failed ? null : this.props.children;
  }
}

/** Signs in with the mock's provider through the page's button; the URL the provider sends the browser back to. */
async function startLogin(client: RecordedClient): Promise<URL> {
  const { Page } = page();
  render(
    <AuthProvider auth={client.auth}>
      <Page />
    </AuthProvider>,
  );
  fireEvent.click(await screen.findByRole('button', { name: 'Sign in' }));
  await waitFor(() => expect(client.opened).toHaveLength(1));
  cleanup();
  return returnFromProvider(client.opened[0]!);
}

describe('AuthProvider', () => {
  test('When the tests run, then React and React DOM are of the version the project names', () => {
    expect([version, domVersion].map((v) => Number(v.split('.')[0]))).toEqual([inject('reactMajor'), inject('reactMajor')]);
  });

  test('When the session is still being restored, then SignedIn and SignedOut render nothing, and SignedOut renders once it is known', async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const client = mockClient(mock.url, async (request) => {
      if (new URL(request.url).pathname === '/v1/refresh') await released;
      return request;
    });
    const { Page, seen } = page();
    render(
      <AuthProvider auth={client.auth}>
        <Page />
      </AuthProvider>,
    );
    await waitFor(() => expect(countOf(client.sent, 'POST /v1/refresh')).toBe(1));
    expect(seen.state?.status).toBe('loading');
    expect(screen.queryByRole('button')).toBeNull();
    expect(screen.getByText('status: loading')).toBeTruthy();

    act(() => release());
    // No refresh cookie reaches the mock: there is no session to restore.
    expect(await screen.findByRole('button', { name: 'Sign in' })).toBeTruthy();
    expect(seen.state).toMatchObject({ status: 'signed_out', session: undefined, user: undefined, error: undefined });
  });

  test('When the provider sends the browser back to a page under StrictMode with two providers, then the callback is redeemed once and onRedirectCallback is called once', async () => {
    const client = mockClient(mock.url);
    const back = await startLogin(client);
    // signIn's redirect URI is this origin and the callback path.
    expect(client.redirectUris).toEqual([`${APP_ORIGIN}/auth/callback`]);
    expect(`${back.origin}${back.pathname}`).toBe(`${APP_ORIGIN}/auth/callback`);

    visit(back);
    const onRedirectCallback = vi.fn<(session: AuthSession) => void>();
    const first = page();
    const second = page();
    render(
      <StrictMode>
        <AuthProvider auth={client.auth} onRedirectCallback={onRedirectCallback}>
          <first.Page name="first" />
        </AuthProvider>
        <AuthProvider auth={client.auth} onRedirectCallback={onRedirectCallback}>
          <second.Page name="second" />
        </AuthProvider>
      </StrictMode>,
    );
    await waitFor(() => expect(screen.getAllByText('Hello ada@example.com')).toHaveLength(2));
    expect(countOf(client.sent, REDEEM)).toBe(1);
    expect(onRedirectCallback).toHaveBeenCalledTimes(1);
    expect(onRedirectCallback.mock.calls[0]![0].session.id).toBe(first.seen.state?.session?.session.id);
    expect(second.seen.state?.session).toBe(first.seen.state?.session);
    // The client took code and state from the address bar; the callback given in its place kept the path.
    expect(window.location.href).toBe(`${APP_ORIGIN}/auth/callback`);

    // Mounted again on the same page: the callback is not redeemed again, nor onRedirectCallback called again.
    cleanup();
    const again = page();
    render(
      <AuthProvider auth={client.auth} onRedirectCallback={onRedirectCallback}>
        <again.Page />
      </AuthProvider>,
    );
    await screen.findByText('Hello ada@example.com');
    expect(countOf(client.sent, REDEEM)).toBe(1);
    expect(onRedirectCallback).toHaveBeenCalledTimes(1);
  });

  test('When no onRedirectCallback is given, then the finished callback replaces the URL with /', async () => {
    const client = mockClient(mock.url);
    visit(await startLogin(client));
    const { Page } = page();
    render(
      <AuthProvider auth={client.auth}>
        <Page />
      </AuthProvider>,
    );
    await screen.findByText('Hello ada@example.com');
    expect(window.location.href).toBe(`${APP_ORIGIN}/`);
  });

  describe('When the callback fails, then the status is signed_out with a typed error, and nothing is thrown into the render', () => {
    async function failedCallback(client: RecordedClient, url: string | URL) {
      visit(url);
      const onRedirectCallback = vi.fn();
      const caught: unknown[] = [];
      const { Page, seen } = page();
      render(
        <StrictMode>
          <Boundary caught={caught}>
            <AuthProvider auth={client.auth} onRedirectCallback={onRedirectCallback}>
              <Page />
            </AuthProvider>
          </Boundary>
        </StrictMode>,
      );
      await screen.findByRole('button', { name: 'Sign in' });
      expect(caught).toEqual([]);
      expect(onRedirectCallback).not.toHaveBeenCalled();
      expect(seen.state?.status).toBe('signed_out');
      expect(seen.state?.session).toBeUndefined();
      return seen.state!.error;
    }

    test('a state this app did not start', async () => {
      const client = mockClient(mock.url);
      const error = await failedCallback(client, '/auth/callback?code=c&state=never-started');
      expect(error).toBeInstanceOf(SignInError);
      expect((error as SignInError).code).toBe('unknown_state');
      expect(countOf(client.sent, REDEEM)).toBe(0);
    });

    test("the provider's refusal", async () => {
      const client = mockClient(mock.url);
      const back = await startLogin(client);
      const error = await failedCallback(client, `/auth/callback?error=access_denied&state=${back.searchParams.get('state')}`);
      expect(error).toBeInstanceOf(SignInError);
      expect(error).toMatchObject({ code: 'provider_error', error: 'access_denied' });
      expect(countOf(client.sent, REDEEM)).toBe(0);
    });

    test("the API's problem", async () => {
      // The mock answers the status a request prefers: here, the redemption's 401.
      const client = mockClient(mock.url, (request) => {
        if (new URL(request.url).pathname !== '/v1/auth/oidc/session') return request;
        const refused = new Request(request);
        refused.headers.set('Prefer', 'code=401');
        return refused;
      });
      const error = await failedCallback(client, await startLogin(client));
      expect(error).toBeInstanceOf(AuthApiError);
      expect(error).toMatchObject({ status: 401, operation: 'createSession' });
      expect(countOf(client.sent, REDEEM)).toBe(1);
    });
  });

  test('When another tab signs out, then this tab re-renders signed out', async () => {
    const tab = mockClient(mock.url);
    visit(await startLogin(tab));
    const { Page, seen } = page();
    render(
      <AuthProvider auth={tab.auth}>
        <Page />
      </AuthProvider>,
    );
    await screen.findByText('Hello ada@example.com');

    // Another tab of the same browser: its own client of the same tenant, which tells the others on their channel.
    const otherTab = mockClient(mock.url);
    await otherTab.auth.signOut();
    expect(await screen.findByRole('button', { name: 'Sign in' })).toBeTruthy();
    expect(seen.state).toMatchObject({ status: 'signed_out', session: undefined, user: undefined, error: undefined });
    expect(tab.auth.session).toBeUndefined();
  });

  test('When the signed-in user signs out, then the page re-renders signed out', async () => {
    const client = mockClient(mock.url);
    visit(await startLogin(client));
    const { Page } = page();
    render(
      <AuthProvider auth={client.auth}>
        <Page />
      </AuthProvider>,
    );
    fireEvent.click(await screen.findByRole('button', { name: 'Sign out' }));
    await screen.findByRole('button', { name: 'Sign in' });
    expect(countOf(client.sent, 'POST /v1/auth/logout')).toBe(1);
  });

  test('When the user signs out at the provider too, then the options reach the API and the provider’s sign-out page is opened', async () => {
    const client = mockClient(mock.url);
    visit(await startLogin(client));
    const { Page, seen } = page();
    render(
      <AuthProvider auth={client.auth}>
        <Page />
      </AuthProvider>,
    );
    await screen.findByText('Hello ada@example.com');
    const opened = client.opened.length;
    let result: Awaited<ReturnType<AuthState['signOut']>> | undefined;
    await act(async () => {
      result = await seen.state!.signOut({ provider: true, postLogoutRedirectUri: `${APP_ORIGIN}/` });
    });
    // The mock answers the contract's example: an end-session URL, which the client opens and returns.
    expect(result!.providerLogoutUrl).toMatch(/^https:\/\/.+id_token_hint=/);
    expect(client.opened.slice(opened)).toEqual([result!.providerLogoutUrl]);
    expect(client.bodies.at(-1)).toEqual({ provider: true, post_logout_redirect_uri: `${APP_ORIGIN}/` });
    await screen.findByRole('button', { name: 'Sign in' });
  });

  test('When useAuth is called outside an AuthProvider, then it says so', () => {
    const { Page } = page();
    const caught: unknown[] = [];
    // React reports the error it caught (React 18 also as an error event of the window): expected here, and kept quiet.
    const quiet = (event: ErrorEvent) => event.preventDefault();
    window.addEventListener('error', quiet);
    vi.spyOn(console, 'error').mockImplementation(() => undefined);
    render(
      <Boundary caught={caught}>
        <Page />
      </Boundary>,
    );
    vi.mocked(console.error).mockRestore();
    window.removeEventListener('error', quiet);
    expect(String(caught[0])).toContain('outside an <AuthProvider>');
  });
});
