export { TEST_USERS, type TestUser } from './users.js';
export type { DevIdpClient, DevIdpOptions } from './options.js';
export { startDevIdp, type RunningDevIdp } from './server.js';
export { signInAt } from './sign-in/sign-in-at.js';
export { ENTRA_DIRECTORIES, ENTRA_FORGERIES, type FakeEntraOptions } from './fakes/entra.js';
