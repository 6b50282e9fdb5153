import type { IncomingMessage } from 'node:http';

// A login form is a few hundred bytes; the cap only stops a runaway client from filling memory.
const MAX_FORM_BYTES = 16 * 1024;

export class FormBodyError extends Error {
  constructor(
    readonly status: 413 | 415,
    message: string,
  ) {
    super(message);
    this.name = 'FormBodyError';
  }
}

/** Reads an application/x-www-form-urlencoded request body. */
export async function readFormBody(req: IncomingMessage): Promise<URLSearchParams> {
  const mediaType = req.headers['content-type']?.split(';')[0]?.trim().toLowerCase();
  if (mediaType !== 'application/x-www-form-urlencoded') {
    throw new FormBodyError(415, 'expected an application/x-www-form-urlencoded body');
  }

  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_FORM_BYTES) throw new FormBodyError(413, `form body exceeds ${MAX_FORM_BYTES} bytes`);
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}
