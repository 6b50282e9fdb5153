import { describe, expect, test } from 'vitest';
import { createBff, type Bff } from './bff.js';
import { memorySessionStore, type BffSessionStore } from './session-store.js';

/**
 * The BFF's refresh and sign-out against a stand-in for the API, for the
 * failures a real server does not produce on demand: an answer lost after
 * the server rotated, a sign-out that lands while a refresh is in flight.
 * The stand-in rotates, replays and revokes as the API does.
 */

const APP = 'http://localhost:3000';
const START = Date.parse('2030-01-01T00:00:00Z');

interface RefreshCall {
  token: string;
  idempotencyKey: string | null;
}

/** Decides, per refresh call, what the API does: answer, answer after `until`, or rotate and lose the answer. */
type RefreshPlan = (call: RefreshCall, index: number) => { lose?: boolean; until?: Promise<void>; answerAfter?: Promise<void>; status?: number } | undefined;

function fakeApi(clock: { at: number }, plan: RefreshPlan = () => undefined) {
  const refreshCalls: RefreshCall[] = [];
  let issued = 0;
  let current = 'rt_0';
  let revoked = false;
  const replays = new Map<string, { token: string; grant: object }>();
  // A retired token within the reuse grace window gets the grant it was rotated into, whatever its Idempotency-Key.
  const graceGrants = new Map<string, { grant: object; until: number }>();
  const grant = () => {
    issued += 1;
    current = `rt_${issued}`;
    return {
      access_token: `at_${issued}`,
      token_type: 'Bearer',
      expires_in: 900,
      refresh_token: current,
      user: { id: 'usr_1', email: 'ada@example.com', name: 'Ada' },
      session: { id: 'ses_1', expires_at: '2030-02-01T00:00:00Z', idle_expires_at: '2030-02-01T00:00:00Z' },
    };
  };
  const answer = (status: number, body?: object) =>
    new Response(body === undefined ? null : JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });

  const fetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const request = new Request(input, init);
    const path = new URL(request.url).pathname;
    if (path === '/v1/auth/oidc/dev/start') return answer(200, { authorization_url: 'https://idp.example/authorize', state: 'st_1' });
    if (path === '/v1/auth/oidc/session') return answer(200, grant());
    if (path === '/v1/auth/logout') {
      revoked = true;
      return answer(204);
    }
    if (path !== '/v1/refresh') return answer(404, {});
    const { refresh_token: token } = (await request.json()) as { refresh_token: string };
    const call = { token, idempotencyKey: request.headers.get('idempotency-key') };
    const index = refreshCalls.push(call) - 1;
    const step = plan(call, index);
    await step?.until;
    if (step?.status) return answer(step.status, { code: 'forced' });
    const replay = call.idempotencyKey === null ? undefined : replays.get(call.idempotencyKey);
    let body: object;
    const grace = graceGrants.get(token);
    if (replay && replay.token === token && !revoked) body = replay.grant;
    else if (grace && clock.at < grace.until && !revoked) body = grace.grant;
    else if (token !== current || revoked) {
      revoked = true;
      return answer(401, { code: 'refresh_token_reused' });
    } else {
      body = grant();
      if (call.idempotencyKey !== null) replays.set(call.idempotencyKey, { token, grant: body });
      graceGrants.set(token, { grant: body, until: clock.at + GRACE_MS });
    }
    await step?.answerAfter;
    if (step?.lose) throw new TypeError('fetch failed: the connection was reset');
    return answer(200, body);
  };
  return { fetch, refreshCalls, isRevoked: () => revoked };
}

function bffOf(api: ReturnType<typeof fakeApi>, store: BffSessionStore, clock: { at: number }): Bff {
  return createBff({ authUrl: 'http://auth.test', tenantId: 't', apiKey: 'k', appUrl: APP, store, fetch: api.fetch, now: () => clock.at });
}

/** Signs in through the BFF's routes; the session cookie's `Cookie` header. */
async function signIn(bff: Bff): Promise<string> {
  const started = await bff.handler(new Request(`${APP}/auth/sign-in/dev`));
  const login = started.headers.getSetCookie()[0]!.split(';')[0]!;
  const back = await bff.handler(new Request(`${APP}/auth/callback?code=c&state=st_1`, { headers: { cookie: login } }));
  expect(back.status).toBe(303);
  return back.headers.getSetCookie().find((cookie) => cookie.startsWith('aimable_session='))!.split(';')[0]!;
}

function setup(plan?: RefreshPlan) {
  const clock = { at: START };
  const store = memorySessionStore({ now: () => clock.at });
  const api = fakeApi(clock, plan);
  return { clock, store, api, bff: () => bffOf(api, store, clock) };
}

const GRACE_MS = 10_000;
const SIXTEEN_MINUTES = 16 * 60_000;

describe('refresh', () => {
  test('When the answer to a refresh is lost after the server rotated, then the retry asks with the same Idempotency-Key and the session lives on', async () => {
    const { clock, api, bff } = setup((_, index) => (index === 0 ? { lose: true } : undefined));
    const app = bff();
    const cookie = await signIn(app);
    clock.at += SIXTEEN_MINUTES;
    const session = await app.getSession(new Headers({ cookie }));
    expect(session?.accessToken).toBe('at_2');
    expect(api.refreshCalls).toHaveLength(2);
    expect(api.refreshCalls[1]!.idempotencyKey).toBe(api.refreshCalls[0]!.idempotencyKey);
    expect(api.isRevoked()).toBe(false);
  });

  test('When every attempt of a refresh loses its answer, then a later refresh in another process replays the same rotation', async () => {
    const { clock, api, bff } = setup((_, index) => (index < 3 ? { lose: true } : undefined));
    const cookie = await signIn(bff());
    clock.at += SIXTEEN_MINUTES;
    await expect(bff().getSession(new Headers({ cookie }))).rejects.toMatchObject({ code: 'auth_unavailable' });
    const session = await bff().getSession(new Headers({ cookie }));
    expect(session?.accessToken).toBe('at_2');
    expect(new Set(api.refreshCalls.map((call) => call.idempotencyKey)).size).toBe(1);
    expect(api.isRevoked()).toBe(false);
  });
});

describe('signing out while a refresh is in flight', () => {
  test('When another process signs out while this one refreshes, then the refresh does not bring the session back', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const { clock, bff } = setup((_, index) => (index === 0 ? { answerAfter: held } : undefined));
    const refreshing = bff();
    const cookie = await signIn(refreshing);
    clock.at += SIXTEEN_MINUTES;
    const pending = refreshing.getSession(new Headers({ cookie }));
    await new Promise((resolve) => setTimeout(resolve, 20));
    const out = await bff().handler(new Request(`${APP}/auth/sign-out`, { method: 'POST', headers: { cookie, origin: APP } }));
    expect(out.status).toBe(303);
    release();
    expect(await pending).toBeUndefined();
    expect(await refreshing.getSession(new Headers({ cookie }))).toBeUndefined();
  });

  test('When a refresh is refused after another process stored newer tokens, then those are kept', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const { clock, bff } = setup((_, index) => (index === 0 ? { until: held, status: 401 } : undefined));
    const slow = bff();
    const cookie = await signIn(slow);
    clock.at += SIXTEEN_MINUTES;
    const pending = slow.getSession(new Headers({ cookie }));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect((await bff().getSession(new Headers({ cookie })))?.accessToken).toBe('at_2');
    release();
    expect((await pending)?.accessToken).toBe('at_2');
    expect((await bff().getSession(new Headers({ cookie })))?.accessToken).toBe('at_2');
  });
});
