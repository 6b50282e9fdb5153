/**
 * The load generator, in a process of its own so that it never takes the
 * server's CPU inside the server's process: autocannon, with a warm-up run
 * and then the measured one. Reads a `LoadSpec` as JSON on stdin, writes a
 * `LoadResult` as JSON on stdout.
 */
import autocannon, { type Request } from 'autocannon';
import { REFRESH_COOKIE } from './fixtures.js';

export interface LoadSpec {
  url: string;
  connections: number;
  warmupSeconds: number;
  seconds: number;
  /** A fixed number of requests instead of a duration (and no warm-up): for requests that each use up a prepared item. */
  amount?: number;
  request: { method: 'GET' | 'POST'; path: string; headers: Record<string, string>; body?: string };
  /**
   * Items each request takes one of: refresh tokens (each answer gives the
   * next one back, so that every request is a real rotation and never a
   * reuse), or prepared logins for session creation.
   */
  pool?: { kind: 'refresh-body' | 'refresh-cookie' | 'create-session'; items: string[] };
}

export interface LoadResult {
  requests: number;
  seconds: number;
  perSecond: number;
  p50: number;
  p99: number;
  /** Answers that were not 2xx, and connection errors or timeouts: a valid run has none. */
  failures: number;
  /** The statuses of the answers that were not 2xx, with their counts. */
  failedStatuses: Record<string, number>;
}

const failedStatuses: Record<string, number> = {};

const spec = JSON.parse(await new Promise<string>((resolve) => {
  let text = '';
  process.stdin.on('data', (chunk: Buffer) => (text += chunk.toString()));
  process.stdin.on('end', () => resolve(text));
})) as LoadSpec;

const pool = spec.pool ? [...spec.pool.items] : [];

function request(): Request {
  const base = { method: spec.request.method, path: spec.request.path, headers: spec.request.headers, ...(spec.request.body ? { body: spec.request.body } : {}) };
  if (!spec.pool) return base;
  const kind = spec.pool.kind;
  return {
    ...base,
    setupRequest: (req) => {
      const item = pool.shift();
      if (item === undefined) throw new Error(`the ${kind} pool ran dry: more connections than items`);
      if (kind === 'refresh-body') return { ...req, body: JSON.stringify({ refresh_token: item }) };
      if (kind === 'refresh-cookie') return { ...req, headers: { ...req.headers, cookie: `${REFRESH_COOKIE}=${item}` } };
      const login = JSON.parse(item) as { code: string; state: string; verifier: string; key: string };
      return {
        ...req,
        headers: { ...req.headers, 'idempotency-key': login.key },
        body: JSON.stringify({ code: login.code, state: login.state, code_verifier: login.verifier, refresh_token_delivery: 'body' }),
      };
    },
    onResponse: (status, body, _context, headers) => {
      if (status >= 300) failedStatuses[status] = (failedStatuses[status] ?? 0) + 1;
      if (status !== 200) return;
      if (kind === 'refresh-body') pool.push((JSON.parse(body) as { refresh_token: string }).refresh_token);
      if (kind === 'refresh-cookie') {
        // Header names come as the server wrote them; several Set-Cookie lines come as a list.
        const cookie = Object.entries(headers as Record<string, string | string[]>)
          .filter(([name]) => name.toLowerCase() === 'set-cookie')
          .flatMap(([, value]) => value)
          .join('\n');
        const token = new RegExp(`${REFRESH_COOKIE}=([^;]+)`).exec(cookie)?.[1];
        if (token) pool.push(token);
      }
    },
  };
}

function run(options: { seconds?: number; amount?: number }): Promise<autocannon.Result> {
  return autocannon({
    url: spec.url,
    connections: options.amount ? Math.min(spec.connections, options.amount) : spec.connections,
    pipelining: 1,
    ...(options.amount ? { amount: options.amount } : { duration: options.seconds! }),
    requests: [request()],
  });
}

if (!spec.amount && spec.warmupSeconds > 0) await run({ seconds: spec.warmupSeconds });
const result = await run(spec.amount ? { amount: spec.amount } : { seconds: spec.seconds });
const output: LoadResult = {
  requests: result.requests.total,
  seconds: result.duration,
  perSecond: result.requests.total / result.duration,
  p50: result.latency.p50,
  p99: result.latency.p99,
  failures: result.non2xx + result.errors + result.timeouts,
  failedStatuses,
};
process.stdout.write(`${JSON.stringify(output)}\n`);
