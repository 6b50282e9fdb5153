import type { Response } from 'express';

/** Statuses that never have a body, nor its headers (RFC 9110 §6.4.1). */
const BODILESS = (status: number) => status < 200 || status === 204 || status === 304;

/** `type/subtype; charset=utf-8`, as Express's `res.send` of a string has it, unless the type names its charset already. */
export function withCharset(contentType: string): string {
  return /;\s*charset=/i.test(contentType) ? contentType : `${contentType}; charset=utf-8`;
}

/**
 * Writes a whole answer at once: its status, its headers (`Vary` added to
 * what is there already, every other one in place of it) and its body,
 * text sent as UTF-8, with its `Content-Length`. A HEAD gets the headers
 * only (Node sends no body for it). What else Express's `res.send` does
 * (an ETag, a freshness check, a guess at the type) the contract does not
 * want, and is not done.
 */
export function writeAnswer(res: Response, status: number, headers: Record<string, string | string[]>, body?: { contentType: string; text: string }): void {
  const written: Record<string, string | string[] | number> = {};
  const bodiless = BODILESS(status);
  for (const name in headers) {
    const value = headers[name]!;
    const lower = name.toLowerCase();
    if (lower === 'vary') res.vary(String(value));
    // The length is always the one sent; the type too where there is a body, or where the status allows none.
    else if (lower !== 'content-length' && (lower !== 'content-type' || (body === undefined && !bodiless))) written[name] = value;
  }
  if (body === undefined || bodiless) {
    // Said outright: with the headers written before end(), Node would otherwise send an empty chunked body.
    if (!bodiless) written['Content-Length'] = 0;
    res.writeHead(status, written).end();
    return;
  }
  written['Content-Type'] = body.contentType;
  written['Content-Length'] = Buffer.byteLength(body.text);
  res.writeHead(status, written).end(body.text);
}
