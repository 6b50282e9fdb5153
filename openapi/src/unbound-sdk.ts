/**
 * The typed SDK of `./sdk`, without its default client: each call is given
 * the client it runs on (`client`), which may be any implementation of
 * `Client`. A bundle that brings a client of its own then carries none of
 * the generated fetch client (`createAuth`'s sign-in does).
 */
export * from './gen-unbound/sdk.gen.js';
export type { Client } from './gen-unbound/client/index.js';
