import { expect, test } from 'vitest';
import { memorySessionStore } from './session-store.js';

test('When the memory store is full, then the entry written longest ago makes room', async () => {
  const store = memorySessionStore({ maxEntries: 2 });
  await store.set('a', '1', 60_000);
  await store.set('b', '2', 60_000);
  await store.set('a', '3', 60_000);
  await store.set('c', '4', 60_000);
  expect(await store.get('b')).toBeUndefined();
  expect(await store.get('a')).toBe('3');
  expect(await store.get('c')).toBe('4');
});

test('When the memory store is full of expired entries, then they make room before any live one', async () => {
  let at = 0;
  const store = memorySessionStore({ now: () => at, maxEntries: 2 });
  await store.set('live', '1', 60_000);
  await store.set('stale', '2', 10);
  at = 100;
  await store.set('new', '3', 60_000);
  expect(await store.get('live')).toBe('1');
  expect(await store.get('new')).toBe('3');
});
