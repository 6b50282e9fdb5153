/** The typed fetch SDK generated from the contract: one function per operation. Their shared client is `@aimable/auth-openapi/fetch-client`. */
export * from './gen/sdk.gen.js';
