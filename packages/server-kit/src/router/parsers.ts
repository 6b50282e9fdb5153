import { parse as parseCookies } from 'cookie';
import express, { type Request, type RequestHandler } from 'express';
import { ApiProblem, type ProblemShape } from '../problems.js';

/** What the router reads of a request before validating it: its cookies, by name. */
export type RequestWithCookies = Request & { cookies: Record<string, string | undefined> };

/** Told the body as read (decoded, before parsing), for a gate that passes the request on to another server. */
export type RawBodyKeeper = (req: Request, body: Buffer) => void;

/** Reads a JSON body; what keeps it from being read becomes the problem that says why. */
export function readJson(limit: string, keep?: RawBodyKeeper): RequestHandler {
  const parse = express.json({ limit, type: ['application/json', 'application/*+json'], ...verifierOf(keep) });
  return (req, res, next) => {
    parse(req, res, (error?: unknown) => (error === undefined ? next() : next(bodyProblem(error))));
  };
}

/**
 * Reads an `application/x-www-form-urlencoded` body into an object of
 * strings: what a provider posts to the client (OAuth 2.0 Form Post
 * Response Mode, back-channel logout). A field sent twice is refused by
 * the contract's schema, which declares each field a string.
 */
export function readForm(limit: string, keep?: RawBodyKeeper): RequestHandler {
  const parse = express.urlencoded({ limit, extended: false, parameterLimit: 32, type: 'application/x-www-form-urlencoded', ...verifierOf(keep) });
  return (req, res, next) => {
    parse(req, res, (error?: unknown) => (error === undefined ? next() : next(bodyProblem(error, 'The request body is not a valid form.'))));
  };
}

function verifierOf(keep: RawBodyKeeper | undefined): { verify?: (req: Request, res: unknown, body: Buffer) => void } {
  return keep ? { verify: (req, _res, body) => keep(req, body) } : {};
}

function bodyProblem(error: unknown, unreadable = 'The request body is not valid JSON.'): ApiProblem<ProblemShape> {
  const type = (error as { type?: unknown }).type;
  if (type === 'entity.too.large') return ApiProblem.of({ status: 413, code: 'payload_too_large', detail: 'The request body is too large.', cause: error });
  if (type === 'encoding.unsupported' || type === 'charset.unsupported') {
    return ApiProblem.of({ status: 415, code: 'unsupported_media_type', detail: 'Send the body as UTF-8 JSON, uncompressed or with gzip, deflate or br.', cause: error });
  }
  // Malformed JSON, too many form fields, or a body that does not decompress: the client sent something unreadable.
  const detail = unreadable;
  return ApiProblem.of({ status: 400, code: 'invalid_request', detail, errors: [{ location: 'body', message: detail }], cause: error });
}

export const readCookies: RequestHandler = (req, _res, next) => {
  const header = req.get('cookie');
  (req as RequestWithCookies).cookies = header ? parseCookies(header) : {};
  next();
};
