import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import { ApiProblem, problemDocument } from './problems.js';

/**
 * What Node answers itself, before any request reaches the application: a
 * request whose URL and headers together pass its header limit
 * (`--max-http-header-size`, 16 KiB by default) gets a `431` problem, like
 * any other refusal, where Node would send a bare status with no body.
 * Other parse errors keep Node's own answers; a connection already reset
 * or mid-answer is closed.
 */
export function answerClientError(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || !socket.writable || (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent) {
    socket.destroy();
    return;
  }
  if (error.code === 'HPE_HEADER_OVERFLOW') {
    const requestId = randomUUID();
    const problem = ApiProblem.of({ status: 431, code: 'invalid_request', detail: 'The request line and headers are too large: send a shorter URL, fewer or shorter headers.' });
    const { instance: _unknown, ...document } = problemDocument(problem, requestId, '');
    const body = JSON.stringify(document);
    socket.end(
      'HTTP/1.1 431 Request Header Fields Too Large\r\n' +
        'Content-Type: application/problem+json; charset=utf-8\r\n' +
        `Content-Length: ${Buffer.byteLength(body)}\r\n` +
        `X-Request-Id: ${requestId}\r\n` +
        'Connection: close\r\n\r\n' +
        body,
    );
    return;
  }
  const status = error.code === 'HPE_CHUNK_EXTENSIONS_OVERFLOW' ? '413 Payload Too Large' : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request';
  socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\n\r\n`);
}
