import { randomInt, randomUUID } from 'node:crypto';
import { fuzz, type FuzzReport, type ReceivedAnswer, type SentRequest } from '@aimable/auth-contract-test';
import { operations } from '@aimable/auth-server-kit';
import SqliteDatabase from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { FakeProvider } from './support/fake-provider.js';
import { loginThroughFake, ManualClock, pkcePair, postSession, startHarness, startJson, type Grant, type Harness } from './support/harness.js';
import { ADMIN_API_KEY, API_KEY, OTHER_API_KEY, OTHER_REDIRECT_URI, REDIRECT_URI } from './support/tenants.js';

/**
 * The server under a fuzzer whose requests come from the contract, over
 * HTTP: requests that fit it and requests broken on purpose (wrong types,
 * missing and extra fields, huge and odd strings, bad headers, other
 * methods and paths, other encodings). Every answer must be one the
 * contract declares for where the request went, never a 5xx, and a
 * refused request must write nothing but what the contract says.
 *
 * Two runs: a fixed seed, and a fresh one printed here, which
 * `FUZZ_SEED=<seed>` replays.
 */

const RUNS_PER_SEED = Number(process.env.FUZZ_RUNS ?? 5_000);
const FIXED_SEED = 20_261_128;
const randomSeed = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : randomInt(2 ** 31);

const TABLES = ['users', 'login_states', 'sessions', 'refresh_tokens', 'idempotency_records', 'audit_events'];

let provider: FakeProvider;
let h: Harness;
const clock = new ManualClock();
let audit: SqliteDatabase.Database;
const pool: Record<string, unknown[]> = {};

async function signIn(): Promise<Grant & { refresh_token: string }> {
  const login = await loginThroughFake(h, provider);
  const response = await postSession(h, { code: login.code, state: login.state, code_verifier: login.verifier, refresh_token_delivery: 'body' });
  return (await response.json()) as Grant & { refresh_token: string };
}

/** A logout token the provider signed, naming a provider session and user that have no session here: accepted, and ends nothing. */
async function logoutRequest(): Promise<{ logout_token: string }> {
  // Issued by the server's clock, which stands still during the run: a token of the real clock would soon be in its future.
  const now = Math.floor(clock.now() / 1000);
  const claims = { iss: provider.issuer, aud: 'aimable-test', iat: now, exp: now + 3600, jti: randomUUID(), sid: 'fuzz-nobody-sid', sub: 'fuzz-nobody', events: { 'http://schemas.openid.net/event/backchannel-logout': {} } };
  return { logout_token: await provider.signToken(claims) };
}

function sessionRequest(login: { code: string; state: string; verifier: string }) {
  return { code: login.code, state: login.state, code_verifier: login.verifier, refresh_token_delivery: 'body' };
}

/** A live session for the bearer pool; a new one whenever the fuzzer ends the current one. */
async function renewBearer(): Promise<void> {
  const grant = await signIn();
  pool['header.Authorization'] = [`Bearer ${grant.access_token}`];
  pool['path.session_id'] = [grant.session.id];
}

beforeAll(async () => {
  // A clock that stands still: nothing expires, so the server's own sweeps write nothing during the run.
  provider = await FakeProvider.start();
  h = await startHarness({ clock, issuer: provider.issuer });
  // Every write to the server's tables is recorded, by triggers inside the server's own transactions.
  audit = new SqliteDatabase(h.config.databaseFile);
  audit.exec('create table fuzz_writes (seq integer primary key autoincrement, tbl text not null, op text not null, stored text)');
  for (const table of TABLES) {
    for (const op of ['insert', 'update', 'delete']) {
      // For an idempotency record, what it now holds: a claim (`in_flight`) or a stored answer (`completed`). For an audit
      // event, its type; for an update of one, whether it only added to the count of a row of repeated events.
      const stored =
        table === 'idempotency_records' && op !== 'delete'
          ? 'new.status'
          : table === 'audit_events' && op === 'insert'
            ? 'new.type'
            : table === 'audit_events' && op === 'update'
              ? `case when new.count > old.count and new.type = old.type and new.tenant_id = old.tenant_id and new.at = old.at and new.request_id is old.request_id then 'counted ' || new.type else 'changed' end`
              : 'null';
      audit.exec(`create trigger fuzz_${table}_${op} after ${op} on ${table} begin insert into fuzz_writes (tbl, op, stored) values ('${table}', '${op}', ${stored}); end`);
    }
  }
  const challenge = pkcePair();
  const started = await Promise.all([1, 2, 3].map(() => startJson(h)));
  const logins = await Promise.all([1, 2, 3, 4, 5].map(() => loginThroughFake(h, provider)));
  const refreshing = await signIn();
  Object.assign(pool, {
    // Parallel lists: the values at one index belong together (alpha's redirect URI and API key, beta's).
    'path.provider': ['dev'],
    'header.X-Tenant-Id': ['alpha', 'beta'],
    'query.tenant': ['alpha', 'beta'],
    'query.frontend_redirect_uri': [REDIRECT_URI, OTHER_REDIRECT_URI],
    'query.code_challenge': [challenge.challenge],
    'query.code_challenge_method': ['S256'],
    'query.state': started.map((login) => login.state),
    'query.iss': [provider.issuer],
    // The same answers, posted as forms.
    'body.receiveOidcFormPost': started.map((login) => ({ state: login.state, code: 'fuzz-form-post-code', iss: provider.issuer })),
    // The third, alpha's operator key, reads the audit log and is refused a refresh.
    'header.X-API-Key': [API_KEY, OTHER_API_KEY, ADMIN_API_KEY],
    'body.createSession': logins.map(sessionRequest),
    'body.refreshSession': [{ refresh_token: refreshing.refresh_token }],
    'body.backchannelLogout': await Promise.all([1, 2, 3].map(() => logoutRequest())),
  });
  await renewBearer();
}, 120_000);

afterAll(async () => {
  audit?.close();
  await h?.close();
  await provider?.close();
});

interface Write {
  tbl: string;
  op: string;
  stored: string | null;
}

/** Refusals that mean "not now": a retry with the same key must run again, so their answer is never stored. */
const RETRYABLE = new Set([408, 409, 425, 429]);

/**
 * Sends the request and checks what it wrote. A refused request writes
 * nothing, but for what the contract says it does: the stored answer of a
 * request with an `Idempotency-Key` (replayed on retry; never for a
 * retryable refusal or a 5xx), and the revocation of a session whose
 * refresh token was reused.
 */
async function around(request: SentRequest, send: () => Promise<ReceivedAnswer>): Promise<void> {
  const before = lastWrite();
  const answer = await send();
  const writes = audit.prepare('select tbl, op, stored from fuzz_writes where seq > ?').all(before) as Write[];
  if (answer.status >= 400) {
    const code = (answer.body as { code?: string } | undefined)?.code;
    const hasKey = Object.keys(request.headers).some((name) => name.toLowerCase() === 'idempotency-key');
    const storable = !RETRYABLE.has(answer.status) && answer.status < 500;
    const outOfScopeHead = request.method === 'HEAD' && answer.status === 403 && request.target.startsWith('/v1/admin/audit-events');
    const unexpected = writes.filter(
      (write) =>
        !(write.tbl === 'idempotency_records' && hasKey && (storable || write.stored !== 'completed')) &&
        !(write.tbl === 'sessions' && write.op === 'update' && code === 'refresh_token_reused') &&
        // The audit log records a reuse, and a key used beyond its scope (a HEAD's 403 has no body to name its code).
        !(write.tbl === 'audit_events' && write.op === 'insert' && ((code === 'refresh_token_reused' && write.stored === 'refresh_token_reused') || ((code === 'insufficient_scope' || outOfScopeHead) && write.stored === 'api_key_refused'))) &&
        // A key's repeated refusals are counted in the minute's row, at the refusal or at the next flush, whenever it runs.
        !(write.tbl === 'audit_events' && write.op === 'update' && write.stored === 'counted api_key_refused'),
    );
    if (unexpected.length > 0) {
      throw new Error(`${request.method} ${request.target} was refused with ${answer.status} ${code}, and wrote ${JSON.stringify(unexpected)}`);
    }
  }
  await keepPoolLive(request, answer);
}

function lastWrite(): number {
  return (audit.prepare('select coalesce(max(seq), 0) as seq from fuzz_writes').get() as { seq: number }).seq;
}

let sent = 0;
let bearerEndedAt: number | undefined;

/** What the fuzzer spent is replaced: a redeemed login, a rotated refresh token, an ended session. */
async function keepPoolLive(request: SentRequest, answer: ReceivedAnswer): Promise<void> {
  sent += 1;
  if (request.routedTo === 'createSession' && request.body !== undefined) {
    const logins = pool['body.createSession'] as { state: string }[];
    const spent = logins.findIndex((login) => request.body!.includes(login.state));
    if (spent >= 0) logins[spent] = sessionRequest(await loginThroughFake(h, provider));
  }
  // A logout token is single-use: one that was accepted is replaced (sent again, it is a replay, worth sending too).
  if (request.routedTo === 'backchannelLogout' && answer.status === 200 && request.body !== undefined) {
    const tokens = pool['body.backchannelLogout'] as { logout_token: string }[];
    const spent = tokens.findIndex((token) => request.body!.includes(token.logout_token));
    if (spent >= 0) tokens[spent] = await logoutRequest();
  }
  const body = answer.body as { refresh_token?: string } | undefined;
  if (request.routedTo === 'refreshSession' && answer.status === 200 && body?.refresh_token) {
    pool['body.refreshSession'] = [{ refresh_token: body.refresh_token }];
  }
  // An ended session is replaced, but not at once: meanwhile its token is a revoked one, worth sending too.
  if ((request.routedTo === 'logout' || request.routedTo === 'revokeSession') && answer.status === 204) bearerEndedAt ??= sent;
  if (bearerEndedAt !== undefined && sent - bearerEndedAt >= 25) {
    bearerEndedAt = undefined;
    await renewBearer();
  }
}

function expectCoverage(report: FuzzReport): void {
  const answered = (operationId: string, from: number, to: number) =>
    Object.entries(report.answers).some(([key, count]) => {
      const [id, status] = key.split(' ');
      return id === operationId && Number(status) >= from && Number(status) < to && count > 0;
    });
  for (const operation of operations) {
    expect(answered(operation.operationId, 200, 400), `${operation.operationId} never succeeded`).toBe(true);
    // 431 is every operation's, answered by Node for any request over the header limit: not a refusal of the operation's own.
    const refusals = Object.keys(operation.responses).filter((status) => Number(status) >= 400 && Number(status) < 500 && Number(status) !== 431);
    if (refusals.length > 0) expect(answered(operation.operationId, 400, 500), `${operation.operationId} was never refused`).toBe(true);
  }
  expect(answered('(unrouted)', 404, 405)).toBe(true);
  expect(answered('(unrouted)', 405, 406)).toBe(true);
}

describe('the contract fuzzer', () => {
  test.each([
    ['the fixed seed', FIXED_SEED],
    ['a fresh seed', randomSeed],
  ])(`When ${RUNS_PER_SEED} requests from %s (%i) reach the server, then every answer is declared, none is a 5xx, and refused requests write nothing`, async (_name, seed) => {
    console.log(`contract fuzzer: seed ${seed} (replay with FUZZ_SEED=${seed})`);
    const report = await fuzz({ baseUrl: h.url, seed, runs: RUNS_PER_SEED, pool: () => pool, around });
    console.log(`contract fuzzer: seed ${seed}: ${report.requests} requests`, JSON.stringify(report.answers));
    expect(report.requests).toBe(RUNS_PER_SEED);
    expectCoverage(report);
    // The server logged no answer of its own that broke the contract.
    expect(h.logs.filter((line) => line.includes('breaks the contract'))).toEqual([]);
  }, 600_000);
});
