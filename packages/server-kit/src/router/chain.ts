import type { Request, RequestHandler, Response } from 'express';

/**
 * Runs middleware in turn, as Express would: an error, or the end of the
 * chain, goes on to `done`.
 *
 * Not an `express.Router`: the request's operation is already found, and
 * its chain fixed, so there is nothing left to match. A Router would match
 * the path again at every layer, set `req.params` to that match (losing the
 * decoded path parameters) and end on `setImmediate`, at several times
 * the cost per request. What is kept is Express's contract
 * for middleware: `next(error)`, a throw and a rejected promise are errors;
 * `next('route')` and `next('router')` go on.
 */
export function runChain(chain: readonly RequestHandler[], req: Request, res: Response, done: (error?: unknown) => void): void {
  let index = 0;
  const next = (error?: unknown): void => {
    if (error !== undefined && error !== null && error !== 'route' && error !== 'router') {
      done(error);
      return;
    }
    const middleware = chain[index++];
    if (!middleware) {
      done();
      return;
    }
    try {
      const returned = middleware(req, res, next) as unknown;
      // Express 5 passes a rejected promise on as an error; so does this.
      if (returned instanceof Promise) returned.catch(next);
    } catch (thrown) {
      next(thrown ?? new Error('a middleware threw nothing'));
    }
  };
  next();
}
