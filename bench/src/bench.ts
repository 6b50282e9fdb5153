/**
 * `pnpm bench`: the hot paths of the auth server, side by side with bare
 * Express (the reference) and a peer (Better Auth), in one run.
 *
 * Every server runs in a process of its own, and the load comes from
 * another (autocannon, `src/load.ts`): the same connections, warm-up and
 * duration for each, the scenarios taken round-robin for several rounds,
 * and each quoted by the median of its rounds, as a ratio to bare Express
 * measured in the same run. Writes `results/latest.json` and
 * `results/latest.md`.
 *
 *   pnpm bench [-- --seconds 10 --warmup 3 --rounds 3 --connections 32 --logins 120 --soak 60 --no-postgres
 *                  --only sqlite:refresh,sqlite:session --profile results/profiles]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { signInAt, startDevIdp } from '@aimable/dev-idp';
import { freePort } from '@aimable/testing';
import { API_KEY, BENCH_CLIENT, BENCH_TENANT, REDIRECT_URI } from './fixtures.js';
import type { LoadResult, LoadSpec } from './load.js';
import { startPostgres } from './postgres.js';

// `pnpm bench -- --only …` passes the `--` on: what follows it is ours all the same.
const args = process.argv.slice(2);
const { values } = parseArgs({
  args: args[0] === '--' ? args.slice(1) : args,
  options: {
    seconds: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '3' },
    connections: { type: 'string', default: '32' },
    logins: { type: 'string', default: '120' },
    'no-postgres': { type: 'boolean', default: false },
    /** Seconds of refresh load on SQLite, after the rounds, to see whether memory grows; 0 leaves it out. */
    soak: { type: 'string', default: '60' },
    only: { type: 'string' },
    /** Write a CPU profile of each auth server to this directory (node --cpu-prof). */
    profile: { type: 'string' },
  },
});
const settings = {
  seconds: Number(values.seconds),
  warmupSeconds: Number(values.warmup),
  rounds: Number(values.rounds),
  connections: Number(values.connections),
  logins: Number(values.logins),
  soakSeconds: Number(values.soak),
};
const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));
const dataDir = mkdtempSync(join(tmpdir(), 'aimable-bench-'));

// ---- Servers, each in its own process ----

interface Target {
  name: string;
  url: string;
  child: ChildProcess;
}

async function startTarget(name: string, file: string, env: Record<string, string>, port?: number, profile?: string): Promise<Target> {
  port ??= await freePort();
  // One profile per thread (the main one is the largest), in a directory per server.
  const profiling = profile ? ['--cpu-prof', '--cpu-prof-dir', join(profile, name)] : [];
  const child = spawn(process.execPath, [...profiling, '--import', 'tsx', here(file)], {
    env: { ...process.env, NODE_ENV: 'production', PORT: String(port), ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => chunk.toString().includes('ready') && resolve());
    child.once('exit', (code) => reject(new Error(`${name} exited with ${code}`)));
  });
  // Its JSON logs go nowhere from here on, as to a log shipper that keeps up.
  child.stdout!.resume();
  return { name, url: `http://localhost:${port}`, child };
}

// The auth servers' ports are chosen first: the provider must know their callbacks.
const authPorts = { sqlite: await freePort(), postgres: await freePort() };
const provider = await startDevIdp({
  port: 0,
  clients: [{ client_id: BENCH_CLIENT.id, client_secret: BENCH_CLIENT.secret, redirect_uris: Object.values(authPorts).map((port) => `http://localhost:${port}/v1/auth/oidc/dev/callback`) }],
});
const postgres = values['no-postgres'] ? undefined : startPostgres(await freePort());
const targets: Target[] = [];
/** The load generator, while it runs. */
const loading = new Set<ChildProcess>();
// Stopped early (Ctrl-C), it stops what it started: the servers, and the database.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    for (const each of [...targets.map((target) => target.child), ...loading]) each.kill('SIGTERM');
    postgres?.stop();
    process.exit(130);
  });
}
targets.push(await startTarget('express', '../src/targets/bare-express.ts', {}));
targets.push(await startTarget('express-kit', '../src/targets/bare-express.ts', { BENCH_KIT_SERVER: '1' }));
const authServer = (name: 'sqlite' | 'postgres', env: Record<string, string> = {}) =>
  startTarget(name, '../src/targets/auth-server.ts', { BENCH_DATA_DIR: join(dataDir, name), BENCH_ISSUER: provider.issuer, ...env }, authPorts[name], values.profile);
targets.push(await authServer('sqlite'));
if (postgres) targets.push(await authServer('postgres', { DATABASE_URL: postgres.url }));
targets.push(await startTarget('better-auth', '../src/targets/better-auth.ts', { BENCH_DATA_DIR: dataDir }));
const target = (name: string) => targets.find((each) => each.name === name);

// ---- Logins through the local provider, to set the load up ----

interface Login {
  code: string;
  state: string;
  verifier: string;
  key: string;
}

async function login(url: string): Promise<Login> {
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const started = await fetch(`${url}/v1/auth/oidc/dev/start?frontend_redirect_uri=${encodeURIComponent(REDIRECT_URI)}&code_challenge=${challenge}&code_challenge_method=S256`, {
    headers: { 'X-Tenant-Id': BENCH_TENANT },
    redirect: 'manual',
  });
  const providerReturn = await signInAt(started.headers.get('location')!, { username: 'ada', password: 'password' });
  const back = new URL((await fetch(providerReturn, { redirect: 'manual' })).headers.get('location')!);
  return { code: back.searchParams.get('code')!, state: back.searchParams.get('state')!, verifier, key: randomUUID() };
}

async function signIn(url: string, delivery: 'body' | 'cookie'): Promise<{ accessToken: string; refreshToken: string }> {
  const { code, state, verifier } = await login(url);
  const response = await fetch(`${url}/v1/auth/oidc/session`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Tenant-Id': BENCH_TENANT, 'Idempotency-Key': randomUUID() },
    body: JSON.stringify({ code, state, code_verifier: verifier, refresh_token_delivery: delivery }),
  });
  if (response.status !== 201) throw new Error(`session creation answered ${response.status}`);
  const grant = (await response.json()) as { access_token: string; refresh_token?: string };
  const cookie = /__Host-aimable_refresh_[^=]+=([^;]+)/.exec(response.headers.get('set-cookie') ?? '')?.[1];
  return { accessToken: grant.access_token, refreshToken: grant.refresh_token ?? cookie! };
}

async function many<T>(count: number, make: () => Promise<T>): Promise<T[]> {
  const made: T[] = [];
  // Several at a time, but not all: the provider is in this process.
  for (let i = 0; i < count; i += 16) made.push(...(await Promise.all(Array.from({ length: Math.min(16, count - i) }, make))));
  return made;
}

async function betterAuthCookie(url: string): Promise<string> {
  const response = await fetch(`${url}/api/auth/sign-up/email`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Origin: url },
    body: JSON.stringify({ email: `ada-${randomBytes(4).toString('hex')}@example.com`, password: 'password-of-ada-1234', name: 'Ada' }),
  });
  if (response.status !== 200) throw new Error(`Better Auth sign-up answered ${response.status}`);
  return /better-auth\.session_token=[^;]+/.exec(response.headers.get('set-cookie') ?? '')![0];
}

// ---- Scenarios ----

interface Scenario {
  id: string;
  target: string;
  label: string;
  /** What the load process sends, prepared afresh for every round. */
  prepare(url: string): Promise<Omit<LoadSpec, 'url' | 'connections' | 'warmupSeconds' | 'seconds'>>;
}

// Each run ends with a request in flight on every connection, whose token is lost: the warm-up and the measured run each lose one per connection.
const pooled = 2 * settings.connections + 8;
const ours = (store: string): Scenario[] => [
  { id: `${store}:healthz`, target: store, label: 'GET /healthz', prepare: async () => ({ request: { method: 'GET', path: '/healthz', headers: {} } }) },
  {
    id: `${store}:session`,
    target: store,
    label: 'GET /v1/auth/session',
    prepare: async (url) => ({ request: { method: 'GET', path: '/v1/auth/session', headers: { authorization: `Bearer ${(await signIn(url, 'body')).accessToken}` } } }),
  },
  {
    id: `${store}:refresh-body`,
    target: store,
    label: 'POST /v1/refresh (token in the body)',
    prepare: async (url) => ({
      request: { method: 'POST', path: '/v1/refresh', headers: { 'content-type': 'application/json', 'x-api-key': API_KEY } },
      pool: { kind: 'refresh-body', items: (await many(pooled, () => signIn(url, 'body'))).map((grant) => grant.refreshToken) },
    }),
  },
  {
    id: `${store}:refresh-cookie`,
    target: store,
    label: 'POST /v1/refresh (cookie)',
    prepare: async (url) => ({
      request: { method: 'POST', path: '/v1/refresh', headers: { 'x-api-key': API_KEY } },
      pool: { kind: 'refresh-cookie', items: (await many(pooled, () => signIn(url, 'cookie'))).map((grant) => grant.refreshToken) },
    }),
  },
  { id: `${store}:providers`, target: store, label: 'GET /v1/auth/providers', prepare: async () => ({ request: { method: 'GET', path: '/v1/auth/providers', headers: { 'x-tenant-id': BENCH_TENANT } } }) },
  { id: `${store}:jwks`, target: store, label: 'GET /.well-known/jwks.json', prepare: async () => ({ request: { method: 'GET', path: '/.well-known/jwks.json', headers: {} } }) },
  {
    id: `${store}:create-session`,
    target: store,
    label: 'POST /v1/auth/oidc/session (code exchange with the local provider)',
    prepare: async (url) => {
      // The provider's codes live 60 seconds: the logins must be made well within that before the run uses them.
      const started = performance.now();
      const logins = await many(settings.logins, () => login(url));
      const seconds = (performance.now() - started) / 1000;
      if (seconds > 40) throw new Error(`${settings.logins} logins took ${seconds.toFixed(0)} s, too close to the provider's 60-second codes: pass a smaller --logins`);
      return {
        amount: logins.length,
        request: { method: 'POST', path: '/v1/auth/oidc/session', headers: { 'content-type': 'application/json', 'x-tenant-id': BENCH_TENANT } },
        pool: { kind: 'create-session', items: logins.map((each) => JSON.stringify(each)) },
      };
    },
  },
];

const reference: Scenario = { id: 'express:json', target: 'express', label: 'bare Express 5, small JSON', prepare: async () => ({ request: { method: 'GET', path: '/healthz', headers: {} } }) };
const kitServer: Scenario = { id: 'express:kit-server', target: 'express-kit', label: "the same, on the kit's createHttpServer", prepare: reference.prepare };
const peer: Scenario[] = [
  {
    id: 'better-auth:get-session',
    target: 'better-auth',
    label: 'Better Auth get-session (SQLite, cookie cache off)',
    prepare: async (url) => ({ request: { method: 'GET', path: '/api/auth/get-session', headers: { cookie: await betterAuthCookie(url) } } }),
  },
  {
    id: 'better-auth:token',
    target: 'better-auth',
    label: 'Better Auth jwt plugin GET /token',
    prepare: async (url) => ({ request: { method: 'GET', path: '/api/auth/token', headers: { cookie: await betterAuthCookie(url) } } }),
  },
];
const scenarios = [reference, kitServer, ...ours('sqlite'), ...(postgres ? ours('postgres') : []), ...peer].filter((scenario) => !values.only || values.only.split(',').some((part) => scenario.id.includes(part)) || scenario.id === 'express:json');

// ---- Measuring ----

const CLOCK_TICKS = 100;

/** CPU seconds (user + system) and resident memory of a process, from /proc. */
function usage(pid: number): { cpuSeconds: number; rssMb: number } {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return { cpuSeconds: (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS, rssMb: Number(rss) / 1024 };
}

async function load(spec: LoadSpec): Promise<LoadResult> {
  const child = spawn(process.execPath, ['--import', 'tsx', here('../src/load.ts')], { stdio: ['pipe', 'pipe', 'inherit'] });
  loading.add(child);
  child.once('exit', () => loading.delete(child));
  child.stdin.end(JSON.stringify(spec));
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`the load process exited with ${code}`);
  return JSON.parse(output) as LoadResult;
}

interface Measurement extends LoadResult {
  cpuPercent: number;
  rssMb: number;
}

const measured = new Map<string, Measurement[]>();
for (let round = 1; round <= settings.rounds; round++) {
  for (const scenario of scenarios) {
    const server = target(scenario.target)!;
    const prepared = await scenario.prepare(server.url);
    const before = usage(server.child.pid!);
    const started = performance.now();
    const result = await load({ url: server.url, connections: settings.connections, warmupSeconds: settings.warmupSeconds, seconds: settings.seconds, ...prepared });
    const after = usage(server.child.pid!);
    const wall = (performance.now() - started) / 1000;
    const measurement = { ...result, cpuPercent: ((after.cpuSeconds - before.cpuSeconds) / wall) * 100, rssMb: after.rssMb };
    measured.set(scenario.id, [...(measured.get(scenario.id) ?? []), measurement]);
    const statuses = Object.entries(result.failedStatuses ?? {}).map(([status, count]) => `${count}×${status}`).join(' ');
    console.log(`round ${round} ${scenario.id}: ${result.perSecond.toFixed(0)} req/s, p50 ${result.p50} ms, p99 ${result.p99} ms, failures ${result.failures}${statuses ? ` (${statuses})` : ''}`);
  }
}

// ---- Memory over a long run ----

interface Soak {
  scenario: string;
  seconds: number;
  perSecond: number;
  failures: number;
  /** The server's resident memory, once a second. */
  rssMb: number[];
  /** Mean RSS of the run's second quarter and of its last: a server that leaks grows from one to the other. */
  earlyMb: number;
  lateMb: number;
}

async function soak(scenario: Scenario, seconds: number): Promise<Soak> {
  const server = target(scenario.target)!;
  const prepared = await scenario.prepare(server.url);
  const rssMb: number[] = [];
  const sampler = setInterval(() => rssMb.push(Math.round(usage(server.child.pid!).rssMb)), 1000);
  const result = await load({ url: server.url, connections: settings.connections, warmupSeconds: 0, seconds, ...prepared });
  clearInterval(sampler);
  const mean = (list: number[]) => Math.round(list.reduce((sum, each) => sum + each, 0) / Math.max(1, list.length));
  const quarter = Math.floor(rssMb.length / 4);
  const measured = { scenario: scenario.id, seconds, perSecond: Math.round(result.perSecond), failures: result.failures, rssMb, earlyMb: mean(rssMb.slice(quarter, 2 * quarter)), lateMb: mean(rssMb.slice(-quarter)) };
  console.log(`soak ${scenario.id}: ${measured.perSecond} req/s for ${seconds} s, RSS ${measured.earlyMb} MB in its second quarter, ${measured.lateMb} MB in its last`);
  return measured;
}

const soakScenario = scenarios.find((scenario) => scenario.id === 'sqlite:refresh-body');
const soaked = settings.soakSeconds > 0 && soakScenario ? await soak(soakScenario, settings.soakSeconds) : undefined;

// ---- Report ----

const median = (list: Measurement[]) => [...list].sort((a, b) => a.perSecond - b.perSecond)[Math.floor(list.length / 2)]!;
const bare = median(measured.get(reference.id)!);
const rows = scenarios.map((scenario) => {
  const runs = measured.get(scenario.id)!;
  const m = median(runs);
  return {
    id: scenario.id,
    server: scenario.target,
    label: scenario.label,
    perSecond: Math.round(m.perSecond),
    p50: m.p50,
    p99: m.p99,
    cpuPercent: Math.round(m.cpuPercent),
    rssMb: Math.round(Math.max(...runs.map((each) => each.rssMb))),
    failures: runs.reduce((sum, each) => sum + each.failures, 0),
    throughputRatio: Number((m.perSecond / bare.perSecond).toFixed(2)),
    p99Ratio: Number((m.p99 / bare.p99).toFixed(2)),
    rounds: runs.map((each) => Math.round(each.perSecond)),
  };
});

const goals = [
  { id: 'sqlite:healthz', throughput: 0.8 },
  { id: 'sqlite:session', throughput: 0.7 },
  { id: 'sqlite:refresh-body', throughput: 0.5 },
].map((goal) => {
  const row = rows.find((each) => each.id === goal.id);
  return { ...goal, p99: 3, met: row ? row.throughputRatio >= goal.throughput && row.p99Ratio <= 3 : undefined, throughputRatio: row?.throughputRatio, p99Ratio: row?.p99Ratio };
});

const environment = { date: new Date().toISOString(), node: process.version, cpus: cpus().length, cpu: cpus()[0]?.model, ...settings, postgres: Boolean(postgres) };
mkdirSync(here('../results'), { recursive: true });
writeFileSync(here('../results/latest.json'), `${JSON.stringify({ environment, rows, goals, soak: soaked }, null, 2)}\n`);
const table = [
  `Measured ${environment.date.slice(0, 10)} by \`pnpm bench\`: Node ${environment.node}, ${environment.cpus} cores, ${settings.connections} connections, ${settings.warmupSeconds} s warm-up and ${settings.seconds} s per run, ${settings.rounds} rounds round-robin, the median round of each; session creation over ${settings.logins} prepared logins per round. Every server in its own process, \`NODE_ENV=production\`; the load from another.`,
  '',
  '| Server | Request | req/s | ÷ bare Express | p50 ms | p99 ms | p99 ÷ bare | server CPU % | RSS MB |',
  '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ...rows.map((r) => `| ${r.server} | ${r.label} | ${r.perSecond.toLocaleString('en')} | ${r.throughputRatio.toFixed(2)} | ${r.p50} | ${r.p99} | ${r.p99Ratio.toFixed(2)} | ${r.cpuPercent} | ${r.rssMb} |`),
  '',
  '| Goal (SQLite) | throughput ÷ bare | p99 ÷ bare | met |',
  '| --- | ---: | ---: | --- |',
  ...goals.map((g) => `| ${g.id.replace('sqlite:', '')}: ≥ ${g.throughput}, p99 ≤ ${g.p99}× | ${g.throughputRatio?.toFixed(2) ?? 'not run'} | ${g.p99Ratio?.toFixed(2) ?? ''} | ${g.met === undefined ? '' : g.met ? 'yes' : 'no'} |`),
  '',
];
if (soaked) {
  table.push(
    `Memory: ${soaked.seconds} s of \`${soaked.scenario}\` (${soaked.perSecond.toLocaleString('en')} req/s, every one a rotation that adds rows): the server's RSS was ${soaked.earlyMb} MB on average in the run's second quarter and ${soaked.lateMb} MB in its last (${soaked.lateMb - soaked.earlyMb >= 0 ? '+' : ''}${soaked.lateMb - soaked.earlyMb} MB); sampled once a second: ${soaked.rssMb.join(', ')}.`,
    '',
  );
}
const failures = [...rows.filter((row) => row.failures > 0), ...(soaked && soaked.failures > 0 ? [{ id: `soak ${soaked.scenario}`, failures: soaked.failures }] : [])];
if (failures.length > 0) table.push(`Failed requests (not 2xx, errors, timeouts): ${failures.map((row) => `${row.id} ${row.failures}`).join(', ')}.`, '');
writeFileSync(here('../results/latest.md'), `${table.join('\n')}\n`);
console.log(`\n${table.join('\n')}`);

// Each server ends on SIGTERM, which also writes its profile.
await Promise.all(targets.map((each) => new Promise((resolve) => (each.child.once('exit', resolve), each.child.kill('SIGTERM')))));
await provider.close();
postgres?.stop();
rmSync(dataDir, { recursive: true, force: true });
process.exit(failures.length > 0 ? 1 : 0);
