export { createApiRouter, requestIdOf, type ApiRouterOptions, type SecurityResolver, type SecurityResolvers } from './router.js';
export { ApiProblem, PROBLEM_TITLES, PROBLEM_TYPE_BASE, problemDocument, sendProblem, type ProblemInit } from './problems.js';
export type { HandlerContext, OperationDescriptor, SecuritySchemeDescriptor } from './descriptor.js';
export * from './gen/operations.gen.js';
export { openApiDocument } from './gen/spec.gen.js';
export type * as api from './gen/types/types.gen.js';
export type { Problem, ProblemCode, ValidationIssue } from './gen/types/types.gen.js';
