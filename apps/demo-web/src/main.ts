import { createAuth, createAuthClient, isAuthApiError, type AuthSession } from '@aimable/auth-client';
import './style.css';

/** Where the app finds the API: `/config.json` beside the app (what `pnpm start` serves), or the demo's defaults. */
interface DemoConfig {
  apiBaseUrl: string;
  tenantId: string;
  apiKey: string;
  /** The API is the mock: offer its error scenarios. */
  mock?: boolean;
}

const DEFAULTS: DemoConfig = { apiBaseUrl: 'http://localhost:8080', tenantId: 'demo', apiKey: 'ak_demo_local_only_0c7f3b9a6e2d41f8' };
const PAGE_SIZE = 5;

const config: DemoConfig = { ...DEFAULTS, ...(await fetch('/config.json').then((r) => (r.ok ? r.json() : {})).catch(() => ({}))) };
/**
 * On the mock, an error state on demand: the chosen scenario's `Prefer`
 * goes on the requests it is for, and the mock answers that declared
 * response (see the README's mock section). Kept across reloads.
 */
const SCENARIOS = [
  { label: 'No error', method: '', path: '', prefer: '' },
  { label: 'Session list: 429 rate_limited', method: 'GET', path: '/v1/auth/sessions', prefer: 'code=429' },
  { label: 'Session list: 503 service_unavailable', method: 'GET', path: '/v1/auth/sessions', prefer: 'code=503' },
];
const scenario = config.mock ? SCENARIOS[Number(sessionStorage.getItem('mock-scenario') ?? 0)] : undefined;
const fetchWithScenario: typeof fetch = (input, init) => {
  const request = new Request(input, init);
  if (scenario?.prefer && request.method === scenario.method && new URL(request.url).pathname === scenario.path) request.headers.set('Prefer', scenario.prefer);
  return fetch(request);
};
if (config.mock) {
  const picker = document.createElement('select');
  picker.className = 'mock-scenario';
  picker.setAttribute('aria-label', 'Mock scenario');
  picker.append(...SCENARIOS.map((option, i) => Object.assign(document.createElement('option'), { value: String(i), textContent: option.label, selected: option === scenario })));
  picker.onchange = () => {
    sessionStorage.setItem('mock-scenario', picker.value);
    location.reload();
  };
  document.querySelector('header')!.append(picker);
}

const auth = createAuth({ baseUrl: config.apiBaseUrl, tenantId: config.tenantId, apiKey: config.apiKey, fetch: fetchWithScenario });
// The generated client, for the calls sign-in does not cover: it sends the bearer and refreshes through auth.fetch.
const api = createAuthClient({ baseUrl: config.apiBaseUrl, tenantId: config.tenantId, fetch: auth.fetch });

const app = document.getElementById('app')!;
(document.getElementById('reference') as HTMLAnchorElement).href = `${config.apiBaseUrl}/docs`;
let countdown: ReturnType<typeof setInterval> | undefined;

function el<K extends keyof HTMLElementTagNameMap>(tag: K, props: Partial<HTMLElementTagNameMap[K]> & { dataset?: Record<string, string> } = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  const { dataset, ...rest } = props;
  Object.assign(node, rest);
  Object.assign(node.dataset, dataset);
  node.append(...children);
  return node;
}

function show(...nodes: Node[]): void {
  if (countdown) clearInterval(countdown);
  app.replaceChildren(...nodes);
}

function problem(error: unknown): string {
  if (isAuthApiError(error)) return `${error.code}: ${error.message}`;
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

async function signedOut(message?: string): Promise<void> {
  const { data } = await auth.providers().then((list) => ({ data: list.data }));
  show(
    el('p', { className: 'status', dataset: { state: 'signed-out' } }, 'You are signed out.'),
    ...(message ? [el('p', { className: 'error', role: 'alert' }, message)] : []),
    el(
      'div',
      { className: 'providers' },
      ...data.map((provider) =>
        el('button', {
          textContent: `Sign in with ${provider.display_name}`,
          dataset: { provider: provider.id },
          onclick: () => void auth.signIn(provider.id, { redirectUri: `${location.origin}/auth/callback` }).catch((error) => signedOut(problem(error))),
        }),
      ),
    ),
  );
}

async function signedIn(session: AuthSession): Promise<void> {
  const expiry = el('span', { className: 'expiry' });
  const tick = () => {
    const current = auth.session ?? session;
    expiry.textContent = `${Math.max(0, Math.round((current.expiresAt - Date.now()) / 1000))} s`;
  };
  const sessions = el('ul', { className: 'sessions' });
  const more = el('button', { textContent: 'More sessions', hidden: true });
  let cursor: string | undefined;
  const loadSessions = async (reset: boolean) => {
    const { data } = await api.listSessions({ query: { limit: PAGE_SIZE, ...(reset || !cursor ? {} : { cursor }) } });
    if (reset) sessions.replaceChildren();
    for (const item of data.data) {
      const mine = item.id === auth.session?.session.id;
      sessions.append(
        el(
          'li',
          { dataset: { session: item.id } },
          `${item.id}${mine ? ' (this one)' : ''} · since ${new Date(item.created_at).toLocaleString()}`,
          ...(mine
            ? []
            : [
                el('button', {
                  textContent: 'Revoke',
                  onclick: async () => {
                    await api.revokeSession({ path: { session_id: item.id } });
                    await loadSessions(true);
                  },
                }),
              ]),
        ),
      );
    }
    cursor = data.next_cursor ?? undefined;
    more.hidden = !cursor;
  };
  more.onclick = () => void loadSessions(false);
  show(
    el('p', { className: 'status', dataset: { state: 'signed-in' } }, 'Signed in as ', el('strong', { className: 'user' }, session.user.name ?? session.user.email ?? session.user.id)),
    el('dl', {}, el('dt', {}, 'Email'), el('dd', { className: 'email' }, session.user.email ?? '—'), el('dt', {}, 'Session'), el('dd', { className: 'session-id' }, session.session.id), el('dt', {}, 'Access token expires in'), el('dd', {}, expiry)),
    el('h2', {}, 'Your sessions'),
    sessions,
    more,
    el('button', { className: 'sign-out', textContent: 'Sign out', onclick: () => void auth.signOut().then(() => signedOut()) }),
    // Ends the provider's session too: the browser goes to its sign-out page and comes back here.
    el('button', {
      className: 'sign-out',
      textContent: 'Sign out everywhere',
      onclick: () =>
        void auth.signOut({ provider: true, postLogoutRedirectUri: `${location.origin}/` }).then(({ providerLogoutUrl }) => {
          if (!providerLogoutUrl) void signedOut();
        }),
    }),
  );
  tick();
  countdown = setInterval(tick, 1000);
  await loadSessions(true).catch((error: unknown) => sessions.replaceChildren(el('li', { className: 'error', role: 'alert' }, problem(error))));
}

auth.onAuthStateChange((event, session) => {
  if (event === 'signed_out') void signedOut();
  else if (event === 'signed_in' && session && !location.pathname.startsWith('/auth/callback')) void signedIn(session);
});

try {
  if (location.pathname === '/auth/callback') {
    const session = await auth.handleRedirectCallback();
    history.replaceState(null, '', '/');
    await signedIn(session);
  } else {
    const session = await auth.restore();
    if (!session) await signedOut();
  }
} catch (error) {
  history.replaceState(null, '', '/');
  await signedOut(problem(error));
}
