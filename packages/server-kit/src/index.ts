export { createHttpServer } from './http.js';
export { clientRequestIdOf, ContractViolation, createApiRouter, requestIdOf, type ApiRouterOptions, type SecurityResolver, type SecurityResolvers } from './router.js';
export {
  ApiProblem,
  PROBLEM_TITLES,
  PROBLEM_TYPE_BASE,
  problemDocument,
  sendProblem,
  type AnyProblem,
  type ProblemDocument,
  type ProblemInit,
  type ProblemOf,
  type ProblemShape,
} from './problems.js';
export type { HandlerContext } from './context.js';
export type * from './gen/handlers.gen.js';
export { operations, type OperationDescriptor, type OperationId, type SecuritySchemeDescriptor } from '@aimable/auth-openapi';
export type * as api from '@aimable/auth-openapi';
export type { Problem, ProblemCode, ValidationIssue } from '@aimable/auth-openapi';
