export { TEST_USERS, type TestUser } from './users.js';
export type { DevIdpClient, DevIdpOptions } from './options.js';
export { startDevIdp, type RunningDevIdp } from './server.js';
export { signInAt, signOutAt } from './sign-in/sign-in-at.js';
export { CookieJar } from './sign-in/cookie-jar.js';
