export { TEST_USERS, type TestUser } from './users.js';
export type { DevIdpClient, DevIdpOptions, TokenEndpointAuthMethod } from './options.js';
export { startDevIdp, type RunningDevIdp } from './server.js';
export { signInAt, signOutAt } from './sign-in/sign-in-at.js';
export { CookieJar } from './sign-in/cookie-jar.js';
export { githubAccountsOf, githubEdgeAccounts, type GithubAccount, type GithubFakeOptions, type GithubFaults } from './fakes/github.js';
export { ENTRA_DIRECTORIES, ENTRA_FORGERIES, type FakeEntraOptions } from './fakes/entra.js';
export { signInAtApple, type FormPostResponse } from './sign-in/sign-in-at-apple.js';
export type { FakeAppleClient, FakeAppleOptions, FakeProvidersOptions } from './fakes/index.js';
