type MaybePromise<T> = T | Promise<T>;

/** Where sign-in keeps what must outlive a navigation: logins in progress and, if delivered in the body, the refresh token. */
export interface AuthStorage {
  get(key: string): MaybePromise<string | null | undefined>;
  set(key: string, value: string): MaybePromise<void>;
  remove(key: string): MaybePromise<void>;
}

/** Kept in this process (or tab) only: lost on reload. */
export function memoryStorage(): AuthStorage {
  const values = new Map<string, string>();
  return {
    get: (key) => values.get(key),
    set: (key, value) => void values.set(key, value),
    remove: (key) => void values.delete(key),
  };
}

/**
 * The tab's `sessionStorage`: it survives the provider's redirect, and no other tab sees it. A tab
 * duplicated or opened with `window.open` starts with a copy, which `createAuth` redeems in one tab only.
 */
export function browserSessionStorage(): AuthStorage {
  return {
    get: (key) => sessionStorage.getItem(key),
    set: (key, value) => sessionStorage.setItem(key, value),
    remove: (key) => sessionStorage.removeItem(key),
  };
}
