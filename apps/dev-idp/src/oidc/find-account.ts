import type { Account, AccountClaims, FindAccount } from 'oidc-provider';
import { findUserBySub, type TestUser } from '../users.js';

/**
 * Accounts are the configured users, keyed by `sub`. oidc-provider filters the
 * returned claims down to what the granted scopes allow, so this returns all of them.
 */
export function createFindAccount(users: readonly TestUser[]): FindAccount {
  return (_ctx, sub) => {
    const user = findUserBySub(users, sub);
    if (!user) return undefined;
    const account: Account = { accountId: user.sub, claims: () => claimsOf(user) };
    return account;
  };
}

function claimsOf(user: TestUser): AccountClaims {
  return {
    sub: user.sub,
    email: user.email,
    email_verified: user.email_verified,
    name: user.name,
    // OIDC Core §5.3.2: a claim without a value is omitted, never sent as null.
    ...(user.picture === null ? {} : { picture: user.picture }),
  };
}
