import { pino, type DestinationStream, type Logger } from 'pino';

/**
 * Structured JSON logs. Nothing here logs a token, code, verifier, key or
 * secret: requests are logged by path without query, and errors by name,
 * code and message only. The redaction list is a second line of defence.
 *
 * Without a destination they go to stdout asynchronously: a request does
 * not wait for its log line to be written, and lines that come while a
 * write is under way go out together with the next. The server flushes
 * them when it stops.
 */
export interface ServerLoggers {
  /** Every line but the access log's: through the redaction list. */
  logger: Logger;
  /**
   * The access log: one line per request, of fixed fields (the path
   * without its query, the method, status and duration), none of which is
   * a secret. The redaction list is not run over it: it cost as much as the
   * rest of the line.
   */
  requests: Logger;
}

export function createLoggers(level: string, destination: DestinationStream = pino.destination({ dest: 1, sync: false })): ServerLoggers {
  const base = { level, base: { service: 'aimable-auth' } };
  const logger = pino(
    {
      ...base,
      redact: {
        paths: [
          'headers.authorization',
          'headers.cookie',
          'headers["x-api-key"]',
          'headers["set-cookie"]',
          '*.access_token',
          '*.refresh_token',
          '*.code',
          '*.code_verifier',
          '*.client_secret',
        ],
        censor: '[redacted]',
      },
    },
    destination,
  );
  return { logger, requests: pino(base, destination) };
}

/** An error as it may be logged: its kind and message, never its cause's data. */
export function describeError(error: unknown): Record<string, unknown> {
  if (!(error instanceof Error)) return { type: typeof error };
  // body-parser's errors quote the request body, which may hold codes and tokens: keep only their kind.
  const bodyParserType = (error as { type?: unknown }).type;
  if ('body' in error || (typeof bodyParserType === 'string' && bodyParserType.startsWith('entity.'))) {
    return { type: error.name, reason: bodyParserType };
  }
  const described: Record<string, unknown> = { type: error.name, message: error.message };
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') described.error_code = code;
  if (error.cause instanceof Error) described.cause = describeError(error.cause);
  // A transaction's ROLLBACK that failed after its work did (the store keeps the work's error, and this beside it).
  const rollbackFailure = (error as { rollbackFailure?: unknown }).rollbackFailure;
  if (rollbackFailure !== undefined) described.rollback_failure = describeError(rollbackFailure);
  return described;
}
