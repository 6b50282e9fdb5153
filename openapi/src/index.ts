/**
 * The contract, and what is generated from it once: the types of every
 * operation's inputs and answers, and the contract as data for code that
 * works from it at run time. The typed fetch SDK is `@aimable/auth-openapi/sdk`.
 */
export type * from './gen/types.gen.js';
export { openApiDocument, operations, securitySchemes, unroutedResponses, type OperationId } from './gen/operations.gen.js';
export type { OperationDescriptor, ResponseDescriptor, SecuritySchemeDescriptor } from './descriptor.js';
