import type { TestUser } from '../users.js';

/** One of `/user/emails`' entries. */
export interface GithubEmail {
  email: string;
  primary: boolean;
  verified: boolean;
  visibility: 'public' | 'private' | null;
}

/** A GitHub account at the fake: what `/user` and `/user/emails` answer for it. */
export interface GithubAccount {
  /** GitHub's numeric user id: what relying parties must key accounts on. */
  id: number;
  /** The handle, which its owner may rename at any time. */
  login: string;
  name: string | null;
  avatar_url: string;
  /** The public profile address of `/user`: chosen by the user, and not proof of anything. */
  email: string | null;
  emails: GithubEmail[];
}

/** Where the test users' ids start, far from the edge accounts' ids. */
const FIRST_TEST_USER_ID = 1001;

/** The dev-idp test users as GitHub accounts: ids from 1001 in order, logins their usernames, their one address primary. */
export function githubAccountsOf(users: readonly TestUser[]): GithubAccount[] {
  return users.map((user, i) => ({
    id: FIRST_TEST_USER_ID + i,
    login: user.username,
    name: user.name,
    avatar_url: user.picture ?? `https://avatars.example.com/u/${FIRST_TEST_USER_ID + i}`,
    email: null,
    emails: [{ email: user.email, primary: true, verified: user.email_verified, visibility: 'private' }],
  }));
}

/**
 * Accounts whose addresses a relying party easily mistakes: a primary
 * address not verified beside a verified one that is not primary (with a
 * profile address that shows the unverified one), and no address at all
 * (with a profile address that shows one anyway).
 */
export function githubEdgeAccounts(): GithubAccount[] {
  return [
    {
      id: 9001,
      login: 'unverified-primary',
      name: 'Una Verified',
      avatar_url: 'https://avatars.example.com/u/9001',
      email: 'una@example.com',
      emails: [
        { email: 'una@example.com', primary: true, verified: false, visibility: 'public' },
        { email: 'una@work.example.com', primary: false, verified: true, visibility: 'private' },
      ],
    },
    // A profile address with no address behind it in `/user/emails`: nothing vouches for it.
    { id: 9002, login: 'no-email', name: '', avatar_url: 'https://avatars.example.com/u/9002', email: 'shown@example.com', emails: [] },
  ];
}
