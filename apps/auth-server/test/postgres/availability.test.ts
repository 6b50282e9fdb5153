/**
 * A database that cannot serve: the pool has no free connection, or the
 * server is gone. Requests answer 503 with Retry-After, readiness says so,
 * and everything works again once the database is back.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { refresh as refreshToken, signIn, startHarness, type Harness } from '../support/harness.js';
import { startTestPostgres, type TestPostgres } from '../support/postgres.js';

let postgres: TestPostgres;
let h: Harness;
let databaseUrl: string;

beforeAll(async () => {
  // A server of its own: this file stops it.
  postgres = await startTestPostgres();
  databaseUrl = await postgres.createDatabase();
  h = await startHarness({ config: { databaseUrl, pool: { max: 1, acquireTimeoutMs: 300 } } });
});
afterAll(async () => {
  await h?.close();
  postgres?.stop();
});

async function answer(path: string, init: RequestInit = {}) {
  const response = await fetch(`${h.url}${path}`, init);
  return { status: response.status, retryAfter: response.headers.get('retry-after'), body: (await response.json()) as { code?: string; detail?: string } };
}

const refresh = { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-API-Key': 'ak_test_alpha_4c1f9e' }, body: JSON.stringify({ refresh_token: 'rt_unknown' }) };

describe('when the database cannot serve', () => {
  test('When every connection of the pool is in use, then requests answer 503 with Retry-After, readiness says why, and they succeed once a connection is free', async () => {
    let release!: () => void;
    const held = h.server.store.transaction(() => new Promise<void>((resolve) => (release = resolve)));
    try {
      const refused = await answer('/v1/refresh', refresh);
      expect(refused).toMatchObject({ status: 503, retryAfter: '1', body: { code: 'service_unavailable' } });
      const waiting = answer('/v1/refresh', refresh);
      await new Promise((resolve) => setTimeout(resolve, 50));
      const ready = await answer('/readyz');
      expect(ready).toMatchObject({ status: 503, retryAfter: '1', body: { code: 'service_unavailable' } });
      expect(h.logs.join('\n')).toMatch(/Every database connection is in use and 1 requests wait for one/);
      await waiting;
    } finally {
      release();
      await held;
    }
    expect((await answer('/v1/refresh', refresh)).body.code).toBe('invalid_refresh_token');
    expect((await answer('/readyz')).status).toBe(200);
  });

  test('When a connection breaks while a request holds it, then that request fails and the server goes on serving', async () => {
    let resume!: () => void;
    const held = h.server.store.transaction(async (tx) => {
      await tx.findSession('alpha', 'ses_a');
      await new Promise<void>((resolve) => (resume = resolve));
      return tx.findSession('alpha', 'ses_b');
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const admin = new pg.Client({ connectionString: databaseUrl });
    await admin.connect();
    const { rowCount } = await admin
      .query(`select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'aimable-auth' and state = 'idle in transaction'`)
      .finally(() => admin.end());
    expect(rowCount).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 100));
    resume();
    await expect(held).rejects.toThrow();
    expect((await answer('/readyz')).status).toBe(200);
    expect((await answer('/v1/refresh', refresh)).body.code).toBe('invalid_refresh_token');
  });

  test("When a transaction's work fails and its ROLLBACK then fails too, then the work's own error is what is thrown, the ROLLBACK's kept beside it", async () => {
    let resume!: () => void;
    const held = h.server.store.transaction(async (tx) => {
      await tx.findSession('alpha', 'ses_a');
      await new Promise<void>((resolve) => (resume = resolve));
      throw Object.assign(new Error('the work failed'), { code: 'WORK_FAILED' });
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const admin = new pg.Client({ connectionString: databaseUrl });
    await admin.connect();
    await admin.query(`select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'aimable-auth' and state = 'idle in transaction'`).finally(() => admin.end());
    await new Promise((resolve) => setTimeout(resolve, 100));
    resume();
    const error = (await held.then(() => undefined, (thrown: unknown) => thrown)) as Error & { code?: string; rollbackFailure?: Error };
    expect(error.message).toBe('the work failed');
    expect(error.code).toBe('WORK_FAILED');
    expect(error.rollbackFailure).toBeInstanceOf(Error);
    expect((await answer('/readyz')).status).toBe(200);
  });

  test('When the database goes away, then requests and readiness answer 503, and both recover when it is back, with no restart', async () => {
    postgres.halt();
    try {
      expect(await answer('/v1/refresh', refresh)).toMatchObject({ status: 503, retryAfter: '1', body: { code: 'service_unavailable' } });
      expect(await answer('/readyz')).toMatchObject({ status: 503, body: { code: 'service_unavailable' } });
      // A token whose key id is new to this instance: the keys cannot be read again, which is no fault of the token.
      const unknownKey = `${Buffer.from(JSON.stringify({ alg: 'EdDSA', kid: 'ed25519-new', typ: 'at+jwt' })).toString('base64url')}.e30.c2ln`;
      expect(await answer('/v1/auth/session', { headers: { Authorization: `Bearer ${unknownKey}` } })).toMatchObject({ status: 503, body: { code: 'service_unavailable' } });
      expect(h.logs.join('\n')).not.toContain('internal_error');
    } finally {
      postgres.resume();
    }
    expect((await answer('/readyz')).status).toBe(200);
    expect((await answer('/v1/refresh', refresh)).body.code).toBe('invalid_refresh_token');
  });

  test('When the database takes no writes (read-only: 25006), then writes answer 503 with Retry-After, readiness says so, the cause is logged once, and all recovers once it takes writes again', async () => {
    const grant = await signIn(h);
    const name = new URL(databaseUrl).pathname.slice(1);
    const admin = new pg.Client({ connectionString: databaseUrl });
    await admin.connect();
    // The pool's connections are made again, and so take the database's new default.
    const readOnly = async (on: boolean) => {
      await admin.query(on ? `alter database ${name} set default_transaction_read_only = on` : `alter database ${name} reset default_transaction_read_only`);
      await admin.query(`select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'aimable-auth'`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    };
    try {
      await readOnly(true);
      let refused = await refreshToken(h, grant.refresh_token);
      // The first request may meet the connection that was just ended: the database did not answer.
      if (refused.headers.get('retry-after') === '1') refused = await refreshToken(h, grant.refresh_token);
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).toBe('10');
      expect(((await refused.json()) as { code: string }).code).toBe('service_unavailable');
      expect((await refreshToken(h, grant.refresh_token)).status).toBe(503);
      expect(await answer('/readyz')).toMatchObject({ status: 503, retryAfter: '10', body: { code: 'service_unavailable' } });
      const told = h.logs.map((line) => JSON.parse(line) as { level: number; error_code?: string; msg: string }).filter((line) => line.error_code === '25006' && line.level >= 50);
      expect(told).toHaveLength(1);
      expect(told[0]!.msg).toContain('writes to the PostgreSQL database fail (25006)');
    } finally {
      await readOnly(false).finally(() => admin.end());
    }
    // Readiness tries a write of its own, at most once a second: it is ready again without a restart.
    let readiness = 503;
    for (let i = 0; i < 30 && readiness !== 200; i++) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      readiness = (await answer('/readyz')).status;
    }
    expect(readiness).toBe(200);
    expect((await refreshToken(h, grant.refresh_token)).status).toBe(200);
  });
});
