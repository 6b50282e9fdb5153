export { createHttpServer } from './http.js';
export { createApiRouter } from './router/create-router.js';
export type { ApiRouterOptions } from './router/options.js';
export { createRequestGate, gatedBodyOf, gatedOperationOf, type RequestGateOptions } from './router/request-gate.js';
export { clientRequestIdOf, requestIdOf } from './router/request-id.js';
export { ContractViolation } from './router/response-checks.js';
export type { SecurityResolver, SecurityResolvers } from './router/security.js';
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
