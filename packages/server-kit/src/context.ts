import type { Request, Response } from 'express';

/** What every handler gets besides its typed input. */
export interface HandlerContext {
  /** The request id: the caller's valid `X-Request-Id`, or a generated one. */
  requestId: string;
  req: Request;
  res: Response;
}
