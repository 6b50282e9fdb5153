// `pnpm test:packages`: what a team does in its own project, outside this repository. Every publishable
// package is packed as `pnpm publish` would pack it; the tarballs are installed with plain npm in a
// temporary directory, with no workspace and no pnpm; then, from that install only:
//   1. a strict-TypeScript Vite app on `createAuth` and the typed client type-checks and builds;
//   2. a strict-TypeScript Vite React app on `@aimable/auth-react`, in a project of its own with React from
//      the registry, type-checks and builds, and its components render on a server in Node: on React 19,
//      then on React 18;
//   3. a Node ESM script calls the installed mock (`npx aimable-auth-mock`) through the client;
//   4. the installed server (`npx aimable-auth serve`), signing in through the installed local provider
//      (`npx aimable-dev-idp`), passes the installed contract test (`npx aimable-contract-test`);
//   5. an API's verifier (`@aimable/auth-node`) accepts a token the installed server issues, and refuses
//      it for another audience; its types check in the Vite app's strict project, with no Node types.
// The packages are packed from their dist/: run `pnpm build` first (the root script does).
import { execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '@aimable/testing';
import { pack, publishablePackages } from './packages.mjs';

const work = mkdtempSync(join(tmpdir(), 'aimable-consumer-'));
const app = join(work, 'app');
const reactApp = join(work, 'react-app');
const children = [];
const stopping = new Set();
// `--no`: a command the install lacks fails, rather than npx fetching a package of that name from the registry.
const NPX = ['npx', '--no', '--'];
// Prism's dependencies report installs to their authors unless told not to; nothing here calls out.
process.env.SCARF_ANALYTICS = 'false';

/** Runs a command in the consumer's project, its output shown; throws on a non-zero exit. */
function run(command, args, options = {}) {
  console.log(`\n$ ${command} ${args.join(' ')}`);
  execFileSync(command, args, { cwd: app, stdio: 'inherit', ...options });
}

/** The strict compiler options of both apps. */
const STRICT = {
  strict: true,
  noUncheckedIndexedAccess: true,
  exactOptionalPropertyTypes: true,
  verbatimModuleSyntax: true,
  target: 'ES2022',
  module: 'ESNext',
  moduleResolution: 'Bundler',
  lib: ['ES2022', 'DOM', 'DOM.Iterable'],
  noEmit: true,
};

/** Starts a long-running command of the consumer's project; stopped at the end. */
function start(name, command, args, env = {}) {
  // A process group of its own: npx starts the bin as its child, and stopping npx alone would leave the bin running.
  const child = spawn(command, args, { cwd: app, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  for (const stream of [child.stdout, child.stderr]) stream.on('data', (chunk) => (output += chunk.toString()));
  child.on('exit', (code) => {
    if (code !== null && code !== 0 && !stopping.has(child)) console.error(`${name} exited with ${code}:\n${output}`);
  });
  children.push(child);
  return { child, output: () => output };
}

/** Waits until `url` answers 200, or fails with what the process printed. */
async function waitFor(url, started, seconds = 60) {
  for (let i = 0; i < seconds * 4; i++) {
    const ok = await fetch(url).then((response) => response.ok, () => false);
    if (ok) return;
    if (started.child.exitCode !== null) break;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`${url} did not answer 200:\n${started.output()}`);
}

let failed = false;
try {
  // Pack.
  const tarballs = join(work, 'tarballs');
  mkdirSync(tarballs);
  const projects = publishablePackages().map((project) => ({ ...project, tarball: pack(project.path, tarballs) }));
  const packed = projects.map((project) => project.tarball);
  const tarballOf = (name) => projects.find((project) => project.name === name).tarball;
  console.log(`packed:\n  ${packed.join('\n  ')}`);

  // Install, with npm only.
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }, null, 2));
  run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', ...packed, 'typescript@5.9.3', 'vite@7.3.8']);

  // 1. A strict-TypeScript Vite app.
  mkdirSync(join(app, 'src'));
  writeFileSync(
    join(app, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: { ...STRICT, types: [] }, include: ['src'] }, null, 2),
  );
  writeFileSync(join(app, 'index.html'), '<!doctype html><html><body><p id="who"></p><script type="module" src="/src/main.ts"></script></body></html>\n');
  writeFileSync(
    join(app, 'src', 'main.ts'),
    `import { createAuth, createAuthClient, isAuthApiError, type AuthSession } from '@aimable/auth-client';

const auth = createAuth({ baseUrl: 'http://localhost:8080', tenantId: 'demo', apiKey: 'ak_demo' });
const who = document.querySelector<HTMLParagraphElement>('#who')!;
auth.onAuthStateChange((event, session: AuthSession | undefined) => {
  who.textContent = event === 'signed_out' ? 'signed out' : (session?.user.email ?? session?.user.id ?? '');
});
if (location.pathname === '/auth/callback') await auth.handleRedirectCallback();
else await auth.restore();

const api = createAuthClient({ baseUrl: 'http://localhost:8080', tenantId: 'demo', fetch: auth.fetch });
try {
  const { data } = await api.listSessions({ query: { limit: 10 } });
  const ids: string[] = data.data.map((session) => session.id);
  const next: string | null = data.next_cursor;
  console.log(ids, next);
} catch (error) {
  if (isAuthApiError(error, 'listSessions') && error.code === 'invalid_access_token') await auth.signIn('dev', { redirectUri: location.origin + '/auth/callback' });
  else throw error;
}
`,
  );
  // A route handler of the Fetch API, on the verifier: type-checked with the app, not part of its bundle.
  writeFileSync(
    join(app, 'src', 'api.ts'),
    `import { accessTokenProblemResponse, createVerifier, type AccessTokenClaims } from '@aimable/auth-node';

const verifier = createVerifier({ issuer: 'http://localhost:8080', audience: 'aimable-api' });

export async function GET(request: Request): Promise<Response> {
  try {
    const claims: AccessTokenClaims = await verifier.authenticate(request, { tenant: 'demo' });
    return Response.json({ user: claims.sub, session: claims.sid, tenant: claims.tenant });
  } catch (error) {
    return accessTokenProblemResponse(error, request);
  }
}
`,
  );
  run(NPX[0], [...NPX.slice(1), 'tsc', '-p', 'tsconfig.json']);
  run(NPX[0], [...NPX.slice(1), 'vite', 'build', '--logLevel', 'warn']);

  // 2. A Vite React app, in a project of its own: the bindings and the client from their tarballs, React from the registry.
  mkdirSync(join(reactApp, 'src'), { recursive: true });
  const inReactApp = { cwd: reactApp };
  writeFileSync(join(reactApp, 'package.json'), JSON.stringify({ name: 'consumer-react', private: true, type: 'module' }, null, 2));
  run(
    'npm',
    [
      'install', '--no-audit', '--no-fund', '--loglevel=error',
      ...['@aimable/auth-react', '@aimable/auth-client', '@aimable/auth-openapi'].map(tarballOf),
      'react@19.3.1', 'react-dom@19.3.1', '@types/react@19.3.3', '@types/react-dom@19.3.0', 'typescript@5.9.3', 'vite@7.3.8',
    ],
    inReactApp,
  );
  writeFileSync(join(reactApp, 'tsconfig.json'), JSON.stringify({ compilerOptions: { ...STRICT, jsx: 'react-jsx', types: [] }, include: ['src'] }, null, 2));
  writeFileSync(join(reactApp, 'index.html'), '<!doctype html><html><body><div id="root"></div><script type="module" src="/src/main.tsx"></script></body></html>\n');
  writeFileSync(
    join(reactApp, 'src', 'main.tsx'),
    `import { createAuth, isAuthApiError, SignInError } from '@aimable/auth-client';
import { AuthProvider, SignedIn, SignedOut, useAuth, type AuthState } from '@aimable/auth-react';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';

const auth = createAuth({ baseUrl: 'http://localhost:8080', tenantId: 'demo', apiKey: 'ak_demo' });
const navigate = (path: string) => history.replaceState(null, '', path);

function LoginButtons() {
  const { error, signIn } = useAuth();
  const reason = error instanceof SignInError ? error.code : isAuthApiError(error) ? error.code : error?.message;
  return (
    <>
      {reason && <p role="alert">{reason}</p>}
      <button onClick={() => void signIn('dev')}>Sign in</button>
    </>
  );
}

function App() {
  const { status, session, user, signOut }: AuthState = useAuth();
  const expires: number | undefined = session?.expiresAt;
  return (
    <p>
      {status}: {user?.email ?? user?.id} until {new Date(expires ?? 0).toLocaleTimeString()}
      <button onClick={() => void signOut()}>Sign out</button>
    </p>
  );
}

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <AuthProvider auth={auth} callbackPath="/auth/callback" onRedirectCallback={(session) => navigate(session.user.email ? '/' : '/profile')}>
      <SignedOut><LoginButtons /></SignedOut>
      <SignedIn><App /></SignedIn>
    </AuthProvider>
  </StrictMode>,
);
`,
  );
  // A server render, in Node: the package imports and renders with no window or document.
  writeFileSync(
    join(reactApp, 'render.mjs'),
    `import { createAuth, memoryStorage } from '@aimable/auth-client';
import { AuthProvider, SignedIn, SignedOut, useAuth } from '@aimable/auth-react';
import { createElement as h } from 'react';
import { renderToString } from 'react-dom/server';

const auth = createAuth({ baseUrl: 'http://localhost:8080', tenantId: 'demo', apiKey: 'ak_demo', storage: memoryStorage() });
const Status = () => h('p', null, useAuth().status);
const html = renderToString(h(AuthProvider, { auth }, h(Status), h(SignedIn, null, 'signed in'), h(SignedOut, null, 'signed out')));
if (html !== '<p>loading</p>') throw new Error('the server render is ' + html);
console.log('server render:', html);
`,
  );
  // On React 19, then on React 18 and its types: both are in the peer range.
  for (const react of [[], ['react@18.3.1', 'react-dom@18.3.1', '@types/react@18.3.32', '@types/react-dom@18.3.7']]) {
    if (react.length > 0) run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', ...react], inReactApp);
    run(NPX[0], [...NPX.slice(1), 'tsc', '-p', 'tsconfig.json'], inReactApp);
    run(NPX[0], [...NPX.slice(1), 'vite', 'build', '--logLevel', 'warn'], inReactApp);
    run('node', ['render.mjs'], inReactApp);
  }

  // 3. A Node ESM script, against the installed mock.
  const mockPort = await freePort();
  const mock = start('aimable-auth-mock', NPX[0], [...NPX.slice(1), 'aimable-auth-mock', '--port', String(mockPort)]);
  await waitFor(`http://127.0.0.1:${mockPort}/healthz`, mock);
  writeFileSync(
    join(app, 'providers.mjs'),
    `import { createAuthClient } from '@aimable/auth-client';
const api = createAuthClient({ baseUrl: process.argv[2], tenantId: 'demo' });
const { data } = await api.listProviders({});
if (!Array.isArray(data.data) || data.data.length === 0) throw new Error('no providers: ' + JSON.stringify(data));
console.log('providers from the mock:', data.data.map((provider) => provider.id).join(', '));
`,
  );
  run('node', ['providers.mjs', `http://127.0.0.1:${mockPort}`]);

  // 4. The installed server, the installed local provider, the installed contract test.
  const [apiPort, idpPort, metricsPort] = [await freePort(), await freePort(), await freePort()];
  const apiUrl = `http://localhost:${apiPort}`;
  const clientSecret = randomBytes(16).toString('hex');
  const apiKey = `ak_consumer_${randomBytes(8).toString('hex')}`;
  const idp = start('aimable-dev-idp', NPX[0], [...NPX.slice(1), 'aimable-dev-idp', '--port', String(idpPort)], {
    DEV_IDP_CLIENTS: JSON.stringify([{ client_id: 'consumer-app', client_secret: clientSecret, redirect_uris: [`${apiUrl}/v1/auth/oidc/dev/callback`] }]),
  });
  await waitFor(`http://localhost:${idpPort}/.well-known/openid-configuration`, idp);
  const tenantsFile = join(work, 'tenants.json');
  writeFileSync(
    tenantsFile,
    JSON.stringify({
      tenants: [
        {
          id: 'consumer',
          providers: { dev: { display_name: 'Local', issuer: `http://localhost:${idpPort}`, client_id: 'consumer-app', client_secret_env: 'CONSUMER_IDP_SECRET', allow_insecure_http: true } },
          redirect_uris: ['http://localhost:5173/auth/callback'],
          api_keys: [{ id: 'web', sha256: createHash('sha256').update(apiKey).digest('hex') }],
        },
      ],
    }),
  );
  const serverEnv = {
    AUTH_TENANTS_FILE: tenantsFile,
    AUTH_DATA_DIR: join(work, 'data'),
    AUTH_KEY_ENCRYPTION_SECRET: randomBytes(32).toString('base64'),
    CONSUMER_IDP_SECRET: clientSecret,
    PORT: String(apiPort),
    HOST: '127.0.0.1',
    AUTH_PUBLIC_URL: apiUrl,
    LOG_LEVEL: 'warn',
    AUTH_METRICS_PORT: String(metricsPort),
  };
  // The operator's commands first, as a release does: the schema and the first keys, then a rotation.
  run(NPX[0], [...NPX.slice(1), 'aimable-auth', 'migrate'], { env: { ...process.env, ...serverEnv } });
  run(NPX[0], [...NPX.slice(1), 'aimable-auth', 'rotate-keys', '--activate-in', '0'], { env: { ...process.env, ...serverEnv } });
  const server = start('aimable-auth serve', NPX[0], [...NPX.slice(1), 'aimable-auth', 'serve'], serverEnv);
  await waitFor(`${apiUrl}/readyz`, server);
  run(NPX[0], [
    ...NPX.slice(1),
    'aimable-contract-test',
    '--base-url', apiUrl,
    '--tenant', 'consumer',
    '--api-key', apiKey,
    '--provider', 'dev',
    '--user', 'ada',
    '--password', 'password',
    '--requests', '300',
    '--seed', '20261204',
  ]);
  // SQLite's log is checkpointed by a worker that runs from a file of the package: were it not packed, the
  // server would go on, checkpointing in its commits, and only its metrics would tell.
  const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const passes = Number(/^auth_sqlite_checkpoints_total\{mode="passive"\} (\d+)$/m.exec(metrics)?.[1] ?? 0);
  if (!/^auth_sqlite_checkpoint_worker_failed 0$/m.test(metrics) || passes === 0) {
    throw new Error(`the installed server's checkpoint worker did not run:\n${metrics.split('\n').filter((line) => line.startsWith('auth_sqlite')).join('\n')}`);
  }
  console.log(`the installed server's checkpoint worker ran: ${passes} passive checkpoints`);

  // 5. An API verifies the installed server's access token: signed in through the installed provider.
  writeFileSync(
    join(app, 'verify.mjs'),
    `import { createHash, randomBytes } from 'node:crypto';
import { AccessTokenError, createVerifier } from '@aimable/auth-node';
import { signInAt } from '@aimable/dev-idp';

const [issuer, tenant] = process.argv.slice(2);
const verifier = createVerifier({ issuer, audience: 'aimable-api', tenant });

const pkce = randomBytes(32).toString('base64url');
const start = new URL('/v1/auth/oidc/dev/start', issuer);
start.searchParams.set('frontend_redirect_uri', 'http://localhost:5173/auth/callback');
start.searchParams.set('code_challenge', createHash('sha256').update(pkce).digest('base64url'));
start.searchParams.set('code_challenge_method', 'S256');
const started = await fetch(start, { headers: { 'X-Tenant-Id': tenant }, redirect: 'manual' });
const callback = await fetch(await signInAt(started.headers.get('location'), { username: 'ada', password: 'password' }), { redirect: 'manual' });
const back = new URL(callback.headers.get('location'));
const session = await fetch(new URL('/v1/auth/oidc/session', issuer), {
  method: 'POST',
  headers: { 'Content-Type': 'application/json', 'X-Tenant-Id': tenant, 'Idempotency-Key': randomBytes(8).toString('hex') },
  body: JSON.stringify({ code: back.searchParams.get('code'), state: back.searchParams.get('state'), code_verifier: pkce, refresh_token_delivery: 'body' }),
});
if (session.status !== 201) throw new Error('the session answered ' + session.status + ': ' + (await session.text()));
const { access_token: token } = await session.json();

const claims = await verifier.verify(token);
if (claims.iss !== issuer || claims.tenant !== tenant || typeof claims.sub !== 'string') throw new Error('unexpected claims: ' + JSON.stringify(claims));
const refused = await createVerifier({ issuer, audience: 'another-api' }).verify(token).then(() => undefined, (error) => error);
if (!(refused instanceof AccessTokenError) || refused.code !== 'invalid_token') throw new Error('a token for another audience was not refused: ' + refused);
console.log('@aimable/auth-node verified the installed server\\'s token: user ' + claims.sub + ', tenant ' + claims.tenant);
`,
  );
  run('node', ['verify.mjs', apiUrl, 'consumer']);
  console.log('\nThe packages install and work outside the workspace: the apps build, the React bindings render on a server, the client calls the mock, the installed server passes the contract test, and its tokens verify.');
} catch (error) {
  failed = true;
  console.error(error);
} finally {
  for (const child of children) {
    stopping.add(child);
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {
      // Already gone.
    }
  }
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  for (const child of children) {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // Stopped at SIGTERM.
    }
  }
  rmSync(work, { recursive: true, force: true });
}
// Nothing left to wait for: what the stopped processes held open must not keep this one alive.
process.exit(failed ? 1 : 0);
