import type { Request, Response } from 'express';

/** What every handler gets besides its typed input. */
export interface HandlerContext {
  /** The request id: the caller's valid `X-Request-Id`, or a generated one. */
  requestId: string;
  req: Request;
  res: Response;
}

/** One operation of the contract, as the router needs it at run time. */
export interface OperationDescriptor<Id extends string = string> {
  operationId: Id;
  method: 'get' | 'put' | 'post' | 'delete' | 'patch';
  /** The contract's path template, for example `/v1/auth/oidc/{provider}/start`. */
  path: string;
  /** The same path in Express syntax. */
  expressPath: string;
  parameters: { path: string[]; query: string[]; header: string[]; cookie: string[] };
  hasBody: boolean;
  /** The operation's security requirements: any one authorises it; each lists the schemes it needs together. Empty: public. */
  security: string[][];
  /** The media type of each status that has a body. */
  responseContentTypes: Record<number, string>;
  /** Problem codes the contract assigns to invalid parameters (`x-problem-code`), by location. */
  parameterProblemCodes: Record<string, string>;
}

/** How a security scheme's credential is sent. */
export interface SecuritySchemeDescriptor {
  type: string;
  in: string | undefined;
  /** The header, query parameter or cookie that carries it. */
  parameter: string | undefined;
  /** For `http` schemes, for example `bearer`. */
  scheme?: string;
  /** The problem code of the 401 when it is missing or refused (`x-problem-code`). */
  problemCode: string;
}
