export { createVerifier, type Verifier, type VerifierOptions, type VerifyOptions } from './verifier/verifier.js';
export type { AccessTokenClaims } from './verifier/claims.js';
export { AccessTokenError, isAccessTokenError, type AccessTokenErrorCode } from './verifier/errors.js';
export { accessTokenProblemResponse, type AccessTokenProblemDocument } from './verifier/problem.js';
export { requireAuth, type NextFunction, type NodeRequestLike, type NodeResponseLike, type RequireAuthOptions } from './verifier/express.js';
export { BffError, createBff, type Bff, type BffOptions, type BffSession, type SessionSource } from './bff/bff.js';
export { memorySessionStore, type BffSessionStore } from './bff/session-store.js';
export { expressBff, sessionOf, type NodeRequest, type NodeResponse } from './bff/express.js';
