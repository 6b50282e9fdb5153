import { timingSafeEqual } from 'node:crypto';

/** A person who can sign in at the dev identity provider. */
export interface TestUser {
  username: string;
  password: string;
  /** Stable subject identifier: relying parties key their accounts on it. */
  sub: string;
  email: string;
  email_verified: boolean;
  name: string;
  picture: string | null;
}

/**
 * The default accounts. Every password is 'password': this provider exists for
 * local development and tests only and must never guard anything real.
 */
export const TEST_USERS: readonly TestUser[] = Object.freeze([
  {
    username: 'ada',
    password: 'password',
    sub: 'user-ada',
    email: 'ada@example.com',
    email_verified: true,
    name: 'Ada Lovelace',
    // example.com is reserved (RFC 2606), so relying parties can render it without leaking requests anywhere real.
    picture: 'https://example.com/avatars/ada.png',
  },
  {
    username: 'alan',
    password: 'password',
    sub: 'user-alan',
    email: 'alan@example.com',
    email_verified: true,
    name: 'Alan Turing',
    picture: null,
  },
  {
    username: 'grace',
    password: 'password',
    sub: 'user-grace',
    email: 'grace@example.com',
    email_verified: true,
    name: 'Grace Hopper',
    picture: null,
  },
]);

export function findUserBySub(users: readonly TestUser[], sub: string): TestUser | undefined {
  return users.find((user) => user.sub === sub);
}

export function findUserByCredentials(
  users: readonly TestUser[],
  username: string,
  password: string,
): TestUser | undefined {
  const user = users.find((candidate) => candidate.username === username);
  return user && passwordsMatch(user.password, password) ? user : undefined;
}

// Constant-time even in a dev tool, so that nobody copies a naive comparison from here into real code.
function passwordsMatch(expected: string, given: string): boolean {
  const a = Buffer.from(expected, 'utf8');
  const b = Buffer.from(given, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}
