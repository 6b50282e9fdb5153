import { createHash, randomBytes } from 'node:crypto';
import { ApiProblem } from '@aimable/auth-server-kit';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import type { AuthStore } from '../store/auth-store.js';
import { openSqliteStore } from '../store/sqlite/sqlite-store.js';
import { rateLimited } from '../problems.js';
import { Sealer } from '../tokens/sealing.js';
import { canonicalJson, Idempotency, requestFingerprint, type IdempotentRequest } from './idempotency.js';

describe('request fingerprints', () => {
  test('When only key order differs, then the fingerprint is the same', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: null } })).toBe('{"a":{"c":null,"d":[1,{"x":1,"y":2}]},"b":1}');
    expect(canonicalJson({ k: 1, j: 2, i: 3, h: 4, g: 5, f: 6, e: 7, d: 8, c: 9, b: 10, a: 11 })).toBe('{"a":11,"b":10,"c":9,"d":8,"e":7,"f":6,"g":5,"h":4,"i":3,"j":2,"k":1}');
    expect(requestFingerprint('POST', '/r', { a: 1, b: 2 })).toBe(requestFingerprint('post', '/r', { b: 2, a: 1 }));
  });

  test('When a field is undefined, then it is as if it were absent', () => {
    expect(canonicalJson({ a: undefined, b: 1 })).toBe(canonicalJson({ b: 1 }));
  });

  test('When the body, route, method or bound credential differs, then so does the fingerprint', () => {
    const base = requestFingerprint('POST', '/r', { a: 1 }, 'token-hash-1');
    expect(requestFingerprint('POST', '/r', { a: 2 }, 'token-hash-1')).not.toBe(base);
    expect(requestFingerprint('POST', '/s', { a: 1 }, 'token-hash-1')).not.toBe(base);
    expect(requestFingerprint('PUT', '/r', { a: 1 }, 'token-hash-1')).not.toBe(base);
    expect(requestFingerprint('POST', '/r', { a: 1 }, 'token-hash-2')).not.toBe(base);
  });

  test('When a fingerprint is computed, then it is the SHA-256 of the documented form: records stored by an earlier release still match', () => {
    const expected = createHash('sha256').update('POST /v1/refresh\n{"refresh_token":"rt_x"}\n').digest('hex');
    expect(requestFingerprint('post', '/v1/refresh', { refresh_token: 'rt_x' })).toBe(expected);
  });
});

describe('the Idempotency-Key protocol', () => {
  let store: AuthStore;
  let idempotency: Idempotency;
  let now: number;
  let runs: number;
  const ref = { operation: 'op', subject: 'ses_1', key: 'k' };

  beforeEach(async () => {
    ({ store } = await openSqliteStore(':memory:'));
    now = 1_800_000_000_000;
    runs = 0;
    idempotency = new Idempotency(store, new Sealer(randomBytes(32)), { now: () => now }, { retentionSeconds: 3600, lockSeconds: 60 });
  });
  afterEach(() => store.close());

  function request(overrides: Partial<IdempotentRequest<{ status: number; body: unknown }>> = {}): IdempotentRequest<{ status: number; body: unknown }> {
    return {
      ref,
      fingerprint: 'fp',
      admit: async () => 'tenant-a',
      assertReplayable: async () => {},
      run: async (record) => {
        runs += 1;
        const answer = { status: 200, body: { run: runs } };
        await store.transaction((tx) => record(tx, { ...answer, headers: {} }));
        return answer;
      },
      problem: { requestId: 'req-1', instance: '/op' },
      ...overrides,
    };
  }
  const claim = (fingerprint = 'fp') => store.transaction((tx) => tx.claimIdempotencyKey({ ...ref, tenantId: 'tenant-a' }, fingerprint, now, { retentionMs: 3_600_000, lockMs: 60_000 }));
  const refusal = (promise: Promise<unknown>) => promise.then(() => undefined, (error: unknown) => error as ApiProblem);

  test('When a claim was left in flight by a crashed process, then a retry after its lock takes it over and runs once; before that it answers 409', async () => {
    await claim();
    now += 60_000 - 1;
    const early = await refusal(idempotency.handle(request()));
    expect(early).toMatchObject({ status: 409, code: 'idempotency_key_in_use', headers: { 'Retry-After': '1' } });
    expect(early?.detail).toBe('A request with this Idempotency-Key is still being processed. Retry after the time given.');
    now += 1;
    expect(await idempotency.handle(request())).toEqual({ status: 200, body: { run: 1 } });
    expect(await idempotency.handle(request())).toEqual({ status: 200, body: { run: 1 }, headers: { 'Idempotent-Replayed': 'true' } });
    expect(runs).toBe(1);
  });

  test('When the key is still in flight, or was taken for another request, then the request is refused without being admitted', async () => {
    await claim();
    const admit = vi.fn(async () => 'tenant-a');
    expect(await refusal(idempotency.handle(request({ admit })))).toMatchObject({ status: 409 });
    now += 61_000;
    expect(await refusal(idempotency.handle(request({ admit, fingerprint: 'other' })))).toMatchObject({ status: 422 });
    expect(admit).not.toHaveBeenCalled();
  });

  test('When an abandoned claim was for another request, then it is not taken over: 422', async () => {
    await claim('other');
    now += 61_000;
    const error = await refusal(idempotency.handle(request()));
    expect(error).toMatchObject({ status: 422, code: 'idempotency_key_reused', detail: 'This Idempotency-Key was used with a different request.' });
    expect(runs).toBe(0);
  });

  test('When another request completes the key while this one is being admitted, then this one replays its answer', async () => {
    const answer = await idempotency.handle(request({ admit: async () => (await idempotency.handle(request()), 'tenant-a') }));
    expect(answer).toEqual({ status: 200, body: { run: 1 }, headers: { 'Idempotent-Replayed': 'true' } });
    expect(runs).toBe(1);
  });

  test('When another request takes the key with a different body, or is still running it, while this one is admitted, then 422 or 409', async () => {
    const mismatch = await refusal(idempotency.handle(request({ admit: async () => (await idempotency.handle(request({ fingerprint: 'other' })), 'tenant-a') })));
    expect(mismatch?.status).toBe(422);
    await store.close();
    ({ store } = await openSqliteStore(':memory:'));
    idempotency = new Idempotency(store, new Sealer(randomBytes(32)), { now: () => now }, { retentionSeconds: 3600, lockSeconds: 60 });
    const inFlight = await refusal(idempotency.handle(request({ admit: async () => (await claim(), 'tenant-a') })));
    expect(inFlight?.status).toBe(409);
  });

  test('When a stored answer is moved to the record of another key, then it does not open there: each answer is sealed to its own key', async () => {
    await idempotency.handle(request());
    const stored = (await store.findIdempotencyRecord(ref, now))!;
    const other = { ...ref, key: 'k2' };
    await store.transaction((tx) => tx.claimIdempotencyKey({ ...other, tenantId: 'tenant-a' }, 'fp', now, { retentionMs: 3_600_000, lockMs: 60_000 }));
    await store.completeIdempotencyKey(other, 200, stored.response!);
    await expect(idempotency.handle(request({ ref: other }))).rejects.toThrow();
  });

  test('When the work fails with a 4xx, then that answer is stored and replayed; with a 5xx, the key is released and a retry runs again', async () => {
    const refused = request({
      run: async () => {
        runs += 1;
        throw new ApiProblem({ status: 401, code: 'session_expired', detail: 'gone', headers: { 'WWW-Authenticate': 'ApiKey' } });
      },
    });
    expect(await refusal(idempotency.handle(refused))).toMatchObject({ status: 401 });
    const replayed = await idempotency.handle(refused);
    expect(replayed).toMatchObject({ status: 401, body: { code: 'session_expired', detail: 'gone', request_id: 'req-1', instance: '/op' }, headers: { 'WWW-Authenticate': 'ApiKey', 'Idempotent-Replayed': 'true' } });
    expect(runs).toBe(1);

    const failing = { ...request(), ref: { ...ref, key: 'k5' } };
    failing.run = async () => {
      runs += 1;
      throw new ApiProblem({ status: 500, code: 'internal_error' });
    };
    expect(await refusal(idempotency.handle(failing))).toMatchObject({ status: 500 });
    expect(await refusal(idempotency.handle(failing))).toMatchObject({ status: 500 });
    expect(runs).toBe(3);
  });

  test('When the work is refused for now (a rate limit), then nothing is stored: a retry with the key runs again', async () => {
    let limited = true;
    const throttled = request({
      run: async (record) => {
        runs += 1;
        if (limited) throw rateLimited(7);
        const answer = { status: 200, body: { run: runs } };
        await store.transaction((tx) => record(tx, { ...answer, headers: {} }));
        return answer;
      },
    });
    expect(await refusal(idempotency.handle(throttled))).toMatchObject({ status: 429, headers: { 'Retry-After': '7' } });
    expect((await store.countRows()).idempotencyRecords).toBe(0);
    limited = false;
    expect(await idempotency.handle(throttled)).toEqual({ status: 200, body: { run: 2 } });
  });

  test('When a stored answer may no longer be replayed, then the refusal is answered instead', async () => {
    await idempotency.handle(request());
    const gone = new ApiProblem({ status: 401, code: 'invalid_state', headers: { 'WWW-Authenticate': 'Login' } });
    const error = await refusal(idempotency.handle(request({ assertReplayable: async () => Promise.reject(gone) })));
    expect(error).toBe(gone);
  });
});
