/**
 * The typed fetch SDK generated from the contract: one function per operation, each called with the client it runs
 * on (`client`), usually one of `@aimable/auth-openapi/fetch-client`'s `createClient`.
 */
export * from './gen/sdk.gen.js';
