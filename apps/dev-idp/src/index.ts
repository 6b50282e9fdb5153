export { TEST_USERS, type TestUser } from './users.js';
export type { DevIdpClient, DevIdpOptions } from './options.js';
export { startDevIdp, type RunningDevIdp } from './server.js';
export { signInAt } from './sign-in/sign-in-at.js';
export { signInAtApple, type FormPostResponse } from './sign-in/sign-in-at-apple.js';
export type { FakeAppleClient, FakeAppleOptions, FakeProvidersOptions } from './fakes/index.js';
