import { createAuth, createAuthClient } from '@aimable/auth-client';
import { AuthProvider, SignedIn, SignedOut, useAuth } from '@aimable/auth-react';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { SignedInView } from './signed-in-view.js';
import { SignedOutView } from './signed-out-view.js';
import './style.css';

/** Where the app finds the API: `/config.json` beside the app (what `pnpm start` serves), or the demo's defaults. */
interface DemoConfig {
  apiBaseUrl: string;
  tenantId: string;
  apiKey: string;
}

const DEFAULTS: DemoConfig = { apiBaseUrl: 'http://localhost:8080', tenantId: 'demo', apiKey: 'ak_demo_local_only_0c7f3b9a6e2d41f8' };

const config: DemoConfig = { ...DEFAULTS, ...(await fetch('/config.json').then((r) => (r.ok ? r.json() : {})).catch(() => ({}))) };
const auth = createAuth({ baseUrl: config.apiBaseUrl, tenantId: config.tenantId, apiKey: config.apiKey });
// The generated client, for the calls sign-in does not cover: it sends the bearer and refreshes through auth.fetch.
const api = createAuthClient({ baseUrl: config.apiBaseUrl, tenantId: config.tenantId, fetch: auth.fetch });

function Loading() {
  return useAuth().status === 'loading' ? <p>Loading…</p> : null;
}

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <header>
      <h1>Aimable Auth demo</h1>
      <a href={`${config.apiBaseUrl}/docs`}>API reference</a>
    </header>
    <main aria-live="polite">
      <AuthProvider auth={auth}>
        <Loading />
        <SignedOut>
          <SignedOutView auth={auth} />
        </SignedOut>
        <SignedIn>
          <SignedInView api={api} />
        </SignedIn>
      </AuthProvider>
    </main>
  </StrictMode>,
);
