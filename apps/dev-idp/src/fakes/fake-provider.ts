import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TestUser } from '../users.js';

/**
 * A local server that behaves like a provider the tests can't reach
 * (GitHub, Apple, Microsoft Entra), served beside the OpenID Connect
 * provider under a path prefix of its own.
 */
export interface FakeProvider {
  /** `/github`: the fake answers every path under it. */
  prefix: string;
  handle(req: IncomingMessage, res: ServerResponse): Promise<void> | void;
}

/** What every fake is given: where dev-idp listens, its test users, and its log. */
export interface FakeContext {
  /** `http://localhost:8090`, without a trailing slash. */
  origin: string;
  users: readonly TestUser[];
  log: (line: string) => void;
}
