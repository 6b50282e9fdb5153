import { openApiDocument } from '@aimable/auth-openapi';
import { ContractJudge, type JudgeOptions, type Violation } from '@aimable/auth-openapi/judge';
import fc from 'fast-check';
import { operationsOf, plannedRequest, type Mutation, type Operation, type PlannedRequest, type Value } from './requests.js';

/** Values the implementation accepts, by pool name (`header.X-API-Key`, `path.provider`, `body.createSession`…). */
export type Pool = Record<string, readonly unknown[]>;

/** A request as it went over the wire. */
export interface SentRequest {
  /** The operation the request was built for (its method or path may have been changed). */
  operationId: string;
  /** The operation the contract routes it to; undefined for a path or method outside the contract. */
  routedTo: string | undefined;
  mutation: Mutation;
  method: string;
  /** Path and query, as sent. */
  target: string;
  headers: Record<string, string>;
  body?: string;
}

/** An answer as it came back. */
export interface ReceivedAnswer {
  status: number;
  headers: Record<string, string>;
  text: string;
  body: unknown;
}

export interface FuzzOptions {
  /** Where the implementation listens, for example `http://localhost:8080`. */
  baseUrl: string;
  /** The seed: the same seed generates the same requests. */
  seed: number;
  /** How many requests to send. */
  runs: number;
  /** Known-good values, read when each request is sent (they may change as the run goes). */
  pool?: () => Pool;
  /** Only these operations; default: every operation of the contract. */
  operations?: readonly string[];
  /**
   * Runs around every request: `send` sends it and returns the answer.
   * Throw to fail the run (a property of the implementation's state, for
   * example that a refused request wrote nothing).
   */
  around?: (request: SentRequest, send: () => Promise<ReceivedAnswer>) => Promise<void>;
  /** Per request timeout, in milliseconds. Default: 10 s. */
  timeoutMs?: number;
  /** How strictly headers are judged. Default: headers neither declared nor HTTP's own are violations. */
  judge?: JudgeOptions;
}

/** What a run did: requests per operation and status, for a coverage check. */
export interface FuzzReport {
  seed: number;
  requests: number;
  /** `operationId status` → count; `(unrouted) 404` for requests outside the contract. */
  answers: Record<string, number>;
}

/** A request whose answer breaks the contract, with what is needed to replay it. */
export class ContractBreach extends Error {
  constructor(
    readonly request: SentRequest,
    readonly answer: ReceivedAnswer,
    readonly violations: string[],
  ) {
    super(
      `${request.method} ${request.target} (${request.routedTo ?? 'outside the contract'}, ${request.mutation}) answered ${answer.status}: ${violations.join('; ')}\n` +
        `  request headers: ${JSON.stringify(request.headers)}${request.body === undefined ? '' : `\n  request body: ${request.body.slice(0, 300)}`}\n` +
        `  answer: ${answer.text.slice(0, 500)}`,
    );
    this.name = 'ContractBreach';
  }
}

/**
 * Sends `runs` requests derived from the contract, some fitting it and
 * some broken on purpose, and judges every answer: no 5xx; a status, body
 * and headers the contract declares for the operation the request reaches
 * (or for a request outside the contract); every 4xx a problem with a code
 * of its status. Throws the first breach (or what `around` threw), its
 * message ending with the seed and the request count to replay it.
 */
export async function fuzz(options: FuzzOptions): Promise<FuzzReport> {
  const document = openApiDocument as unknown as Record<string, any>;
  const judge = new ContractJudge(options.judge);
  const all = operationsOf(document);
  const chosen = all.filter((operation) => !options.operations || options.operations.includes(operation.operationId));
  const arbitrary = fc.oneof(...chosen.map((operation) => plannedRequest(document, operation, all)));
  const report: FuzzReport = { seed: options.seed, requests: 0, answers: {} };
  const details = await fc.check(
    fc.asyncProperty(arbitrary, async (planned) => {
      const request = materialise(planned, options.pool?.() ?? {}, all);
      const send = async (): Promise<ReceivedAnswer> => {
        const answer = await exchange(options.baseUrl, request, options.timeoutMs ?? 10_000);
        report.requests += 1;
        const key = `${request.routedTo ?? '(unrouted)'} ${answer.status}`;
        report.answers[key] = (report.answers[key] ?? 0) + 1;
        const violations = judgeAnswer(judge, request, answer, all);
        if (violations.length > 0) throw new ContractBreach(request, answer, violations);
        return answer;
      };
      if (options.around) await options.around(request, send);
      else await send();
    }),
    { seed: options.seed, numRuns: options.runs, endOnFailure: true },
  );
  if (details.failed) {
    // What the property threw (a ContractBreach, or the caller's own check), with how to replay it.
    const replay = `\n  replay: seed ${details.seed}, after ${details.numRuns} requests (fast-check path ${details.counterexamplePath ?? 'unknown'})`;
    const error = details.errorInstance;
    if (error instanceof ContractBreach) {
      error.message += replay;
      throw error;
    }
    // Anything else (a timeout, the caller's own check) keeps its message, with the replay after it.
    throw new Error(`${error instanceof Error ? error.message : String(error)}${replay}`, { cause: error });
  }
  return report;
}

function judgeAnswer(judge: ContractJudge, request: SentRequest, answer: ReceivedAnswer, all: Operation[]): string[] {
  const violations: string[] = [];
  if (answer.status >= 500) violations.push(`${answer.status} is a server error`);
  const judged = (operationId: string | undefined): Violation[] =>
    judge.judge({ operationId, status: answer.status, headers: answer.headers, body: answer.body, text: answer.text, method: request.method });
  let found = judged(request.routedTo);
  // HEAD is GET without a body (RFC 9110 §9.3.2): answered as GET, or refused as a method outside the contract.
  const asGet = request.method === 'HEAD' ? routeOf(all, 'GET', request.target.split('?', 1)[0]!) : undefined;
  if (found.length > 0 && asGet && judged(asGet).length === 0) found = [];
  violations.push(...found.map((violation) => violation.message));
  return violations;
}

/** The operation the contract routes a method and path to. */
function routeOf(all: Operation[], method: string, path: string): string | undefined {
  return all.find((operation) => operation.method === method && routePattern(operation.path).test(path))?.operationId;
}

/**
 * A body value as its media type carries it: an object as a form for
 * `application/x-www-form-urlencoded` (what a provider posts, such as a
 * back-channel logout), JSON otherwise.
 */
function serialise(value: unknown, contentType: string | undefined): string {
  if (!contentType?.startsWith('application/x-www-form-urlencoded') || typeof value !== 'object' || value === null || Array.isArray(value)) return JSON.stringify(value);
  return new URLSearchParams(Object.entries(value).map(([name, field]) => [name, typeof field === 'string' ? field : JSON.stringify(field)])).toString();
}

/** Takes pool values, encodes the path and query, and works out where the contract routes the request. */
function materialise(planned: PlannedRequest, pool: Pool, all: Operation[]): SentRequest {
  const take = (v: Value): unknown => {
    if (typeof v === 'string') return v;
    const values = pool[v.pool];
    return values && values.length > 0 ? values[v.pick % values.length] : v.fallback;
  };
  const text = (v: Value): string | undefined => {
    const taken = take(v);
    return taken === undefined || typeof taken === 'string' ? taken : JSON.stringify(taken);
  };
  const path = planned.path.map((segment) => (typeof segment === 'string' ? segment : encodeURIComponent(text(segment.value) ?? ''))).join('');
  const query = planned.query.flatMap(([name, v]) => {
    const sent = text(v);
    return sent === undefined ? [] : [`${encodeURIComponent(name)}=${encodeURIComponent(sent)}`];
  });
  const headers: Record<string, string> = {};
  // A header carries bytes: other characters go as their UTF-8 bytes, as a raw client would send them; control characters cannot be sent at all.
  for (const [name, v] of planned.headers) {
    const sent = text(v);
    if (sent !== undefined) headers[name] = Buffer.from(sent, 'utf8').toString('latin1').replace(/[\x00-\x08\x0a-\x1f\x7f]/g, '?').trim();
  }
  let body: string | undefined;
  // A GET or HEAD carries no body.
  if (planned.method === 'GET' || planned.method === 'HEAD') body = undefined;
  else if (planned.body && 'json' in planned.body) body = serialise(planned.body.json, planned.contentType);
  else if (planned.body && 'pool' in planned.body) body = serialise(take(planned.body.pool) ?? {}, planned.contentType);
  else if (planned.body && 'raw' in planned.body) body = planned.body.raw;
  if (body !== undefined && planned.contentType) headers['Content-Type'] = planned.contentType;
  return {
    operationId: planned.operationId,
    routedTo: routeOf(all, planned.method, path),
    mutation: planned.mutation,
    method: planned.method,
    target: query.length === 0 ? path : `${path}?${query.join('&')}`,
    headers,
    ...(body === undefined ? {} : { body }),
  };
}

function routePattern(template: string): RegExp {
  return new RegExp(`^${template.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/\\\{[^}]+\\\}/g, '[^/]+')}$`);
}

async function exchange(baseUrl: string, request: SentRequest, timeoutMs: number): Promise<ReceivedAnswer> {
  let response: Response;
  let text: string;
  try {
    response = await fetch(`${baseUrl}${request.target}`, {
      method: request.method,
      headers: request.headers,
      body: request.body,
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
    text = await response.text();
  } catch (error) {
    const why = error instanceof Error && error.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : `no answer (${error instanceof Error ? error.message : String(error)})`;
    throw new Error(`${request.method} ${request.target}: ${why}\n  request headers: ${JSON.stringify(request.headers)}${request.body === undefined ? '' : `\n  request body: ${request.body.slice(0, 300)}`}`, { cause: error });
  }
  const headers: Record<string, string> = {};
  response.headers.forEach((v, name) => {
    headers[name] = v;
  });
  let body: unknown;
  try {
    body = text === '' ? undefined : JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: response.status, headers, text, body };
}
