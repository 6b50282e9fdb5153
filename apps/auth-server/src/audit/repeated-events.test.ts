import { describe, expect, test } from 'vitest';
import type { NewAuditEvent } from '../store/schema.js';
import { CLIENT_ROWS_PER_WINDOW, MAX_COUNTED_ROWS, RepeatedEvents, REPEAT_WINDOW_MS } from './repeated-events.js';

/** A store that keeps rows as the database's upsert would, and can be made to fail. */
function fakeStore() {
  const rows = new Map<string, NewAuditEvent & { count: number }>();
  const store = {
    failing: false,
    rows,
    countAuditEvent: async (event: NewAuditEvent & { count: number }) => {
      if (store.failing) throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
      const row = rows.get(event.id);
      rows.set(event.id, row ? { ...row, count: row.count + event.count } : { ...event });
    },
  };
  return store;
}

const event = (at: number, clientAddress: string) => ({ tenantId: 't', type: 'api_key_refused', at, requestId: `r-${at}`, clientRequestId: null, sessionId: null, userId: null, clientAddress });
const total = (store: ReturnType<typeof fakeStore>) => [...store.rows.values()].reduce((sum, row) => sum + row.count, 0);

describe('repeated audit events', () => {
  test('When one client repeats an event, then the first writes its row at once and the rest are added at the flush; a new minute has a row of its own', async () => {
    const store = fakeStore();
    const repeated = new RepeatedEvents(store);
    const minute = 1_000 * REPEAT_WINDOW_MS;
    expect(await repeated.count('kind', '203.0.113.7', event(minute, '203.0.113.7'))).toBe('first');
    for (let i = 1; i < 100; i++) expect(await repeated.count('kind', '203.0.113.7', event(minute + i, '203.0.113.7'))).toBe('repeat');
    expect([...store.rows.values()].map((row) => row.count)).toEqual([1]);
    await repeated.flush(minute + 100);
    expect([...store.rows.values()]).toEqual([expect.objectContaining({ count: 100, requestId: `r-${minute}`, clientAddress: '203.0.113.7' })]);
    expect(await repeated.count('kind', '203.0.113.7', event(minute + REPEAT_WINDOW_MS, '203.0.113.7'))).toBe('first');
    expect(store.rows.size).toBe(2);
  });

  test('When many clients repeat one kind, then past the first clients of the minute they share one row that names none, and every event is counted', async () => {
    const store = fakeStore();
    const repeated = new RepeatedEvents(store);
    for (let i = 0; i < 1_000; i++) await repeated.count('kind', `client-${i}`, event(i, `198.51.100.${i % 256}`));
    await repeated.flush(999);
    expect(store.rows.size).toBe(CLIENT_ROWS_PER_WINDOW + 1);
    expect(total(store)).toBe(1_000);
    const shared = [...store.rows.values()].find((row) => row.clientAddress === null)!;
    expect(shared).toMatchObject({ count: 1_000 - CLIENT_ROWS_PER_WINDOW, requestId: null });
  });

  test('When the database refuses the writes, then the counts wait for a flush that succeeds; past the most rows it keeps, new ones are dropped, not held', async () => {
    const store = fakeStore();
    const repeated = new RepeatedEvents(store);
    store.failing = true;
    await expect(repeated.count('kind', 'a', event(0, 'a'))).rejects.toThrow('database or disk is full');
    expect(await repeated.count('kind', 'a', event(1, 'a'))).toBe('repeat');
    expect((await repeated.flush(REPEAT_WINDOW_MS)).failed).toHaveLength(1);
    store.failing = false;
    await repeated.flush(REPEAT_WINDOW_MS);
    expect(total(store)).toBe(2);
    // Once written, a past minute's row is forgotten here.
    store.failing = true;
    let dropped = 0;
    for (let i = 0; i <= MAX_COUNTED_ROWS; i++) {
      const counted = await repeated.count(`kind-${i}`, 'a', event(REPEAT_WINDOW_MS, 'a')).catch(() => 'failed');
      if (counted === 'dropped') dropped++;
    }
    expect(dropped).toBe(1);
  });
});
