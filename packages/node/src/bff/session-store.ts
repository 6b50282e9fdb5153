/**
 * Where the BFF keeps what the browser must never hold: the tokens of each
 * signed-in session, and each sign-in in progress (its PKCE verifier and
 * `state`). The browser only holds an opaque, random key into it.
 *
 * Values are strings with a lifetime, so that any key-value store with
 * expiry fits: Redis (`SET key value PX ttl`), Memcached, a database table.
 * Every process of an app that runs more than one must share the store.
 */
export interface BffSessionStore {
  get(key: string): Promise<string | undefined>;
  /** Keeps `value` under `key` for `ttlMs` milliseconds, replacing what was there. */
  set(key: string, value: string, ttlMs: number): Promise<void>;
  delete(key: string): Promise<void>;
}

/**
 * A store in this process's memory: the default, for one process. Its
 * sessions end when the process does, and a second process does not see
 * them; give every process a shared store instead.
 */
export function memorySessionStore(options: { now?: () => number; maxEntries?: number; sweepIntervalMs?: number } = {}): BffSessionStore {
  const now = options.now ?? Date.now;
  // A sign-in start needs no credentials, so without a cap anyone could grow this map until the process runs out of memory.
  const maxEntries = options.maxEntries ?? 100_000;
  // Insertion order is write order: the first entry is the one written longest ago.
  const entries = new Map<string, { value: string; expiresAt: number }>();
  const sweep = (): void => {
    const at = now();
    for (const [key, entry] of entries) if (entry.expiresAt <= at) entries.delete(key);
  };
  // unref(): the sweep must not keep a process alive that has nothing else to do.
  setInterval(sweep, options.sweepIntervalMs ?? 60_000).unref();
  return {
    async get(key) {
      const entry = entries.get(key);
      if (!entry) return undefined;
      if (entry.expiresAt <= now()) {
        entries.delete(key);
        return undefined;
      }
      return entry.value;
    },
    async set(key, value, ttlMs) {
      entries.delete(key);
      if (entries.size >= maxEntries) sweep();
      for (const oldest of entries.keys()) {
        if (entries.size < maxEntries) break;
        entries.delete(oldest);
      }
      entries.set(key, { value, expiresAt: now() + ttlMs });
    },
    async delete(key) {
      entries.delete(key);
    },
  };
}
