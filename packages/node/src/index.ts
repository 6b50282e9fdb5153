export { BffError, createBff, type Bff, type BffOptions, type BffSession, type SessionSource } from './bff/bff.js';
export { memorySessionStore, type BffSessionStore } from './bff/session-store.js';
export { expressBff, sessionOf, type NodeRequest } from './bff/express.js';
