import { describe, expectTypeOf, test } from 'vitest';
import { ApiProblem, type api, type ProblemOf, type RefreshSessionResult } from '../src/index.js';
import type {
  CreateSessionInput,
  GetCurrentSessionInput,
  GetHealthResult,
  Handlers,
  RefreshSessionInput,
  StartOidcLoginInput,
  StartOidcLoginResult,
} from '../src/index.js';
import { stubHandlers } from './stub-handlers.js';

describe('Handlers', () => {
  test('When every operation is implemented with declared responses, then it compiles', () => {
    expectTypeOf(stubHandlers).toEqualTypeOf<Handlers>();
  });

  test('When an operation is not implemented, then it does not compile', () => {
    const { getHealth: _unused, ...withoutHealth } = stubHandlers;
    // @ts-expect-error getHealth is missing
    const incomplete: Handlers = withoutHealth;
    void incomplete;
  });

  test('When a handler returns an undeclared status, then it does not compile', () => {
    // @ts-expect-error 201 is not a status getHealth declares
    ({ status: 201, body: { status: 'ok' } }) satisfies GetHealthResult;
    // @ts-expect-error 404 is not a status getHealth declares
    ({ status: 404 as const, body: { type: 'x', title: 'x', status: 404, code: 'not_found', request_id: 'r' }, headers: {} }) satisfies GetHealthResult;
  });

  test('When a handler returns a wrong body shape, then it does not compile', () => {
    // @ts-expect-error status must be "ok"
    ({ status: 200, body: { status: 'fine' } }) satisfies GetHealthResult;
    // @ts-expect-error body is required for a 200
    ({ status: 200 }) satisfies GetHealthResult;
    // @ts-expect-error problem code must come from the ProblemCode enum
    ({ status: 400, body: { type: 'x', title: 'x', status: 400, code: 'oops', request_id: 'r' } }) satisfies StartOidcLoginResult;
    const handlers: Pick<Handlers, 'getHealth' | 'listSessions'> = {
      // @ts-expect-error status must be "ok"
      getHealth: () => ({ status: 200, body: { status: 'fine' } }),
      // @ts-expect-error next_cursor is required
      listSessions: async () => ({ status: 200, body: { data: [] } }),
    };
    void handlers;
    const withDeclaredReturn = (): GetHealthResult => ({
      status: 200,
      // @ts-expect-error an extra property is not part of Health
      body: { status: 'ok', uptime: 1 },
    });
    void withDeclaredReturn;
  });

  test('When a redirect is returned, then its Location header is required', () => {
    // @ts-expect-error a 302 must carry Location
    ({ status: 302, headers: {} }) satisfies StartOidcLoginResult;
    ({ status: 302, headers: { Location: 'https://idp.test/authorize', Vary: 'Accept' } }) satisfies StartOidcLoginResult;
  });

  test('When a handler reads its input, then path, query, headers and body are typed by the contract', () => {
    expectTypeOf<StartOidcLoginInput['path']['provider']>().toEqualTypeOf<string>();
    expectTypeOf<StartOidcLoginInput['query']['code_challenge_method']>().toEqualTypeOf<'S256' | undefined>();
    expectTypeOf<StartOidcLoginInput['headers']['X-Tenant-Id']>().toEqualTypeOf<string | undefined>();
    expectTypeOf<StartOidcLoginInput['query']['tenant']>().toEqualTypeOf<string | undefined>();
    expectTypeOf<CreateSessionInput['headers']['Idempotency-Key']>().toEqualTypeOf<string>();
    expectTypeOf<CreateSessionInput['body']['code']>().toEqualTypeOf<string>();
    expectTypeOf<RefreshSessionInput['headers']['Idempotency-Key']>().toEqualTypeOf<string | undefined>();
    expectTypeOf<RefreshSessionInput['body']>().toEqualTypeOf<{ refresh_token: string } | undefined>();
  });

  test('When the security step resolves callers, then each operation’s input carries exactly its schemes’ principals', () => {
    type P = { ApiKey: { tenant: string }; BearerAuth: { session: string } };
    expectTypeOf<RefreshSessionInput<P>['security']>().toEqualTypeOf<{ ApiKey: { tenant: string } }>();
    expectTypeOf<GetCurrentSessionInput<P>['security']>().toEqualTypeOf<{ BearerAuth: { session: string } }>();
    expectTypeOf<CreateSessionInput<P>['security']>().toEqualTypeOf<Record<string, never>>();
    expectTypeOf<RefreshSessionInput['security']>().toEqualTypeOf<{ ApiKey: string }>();
  });

  test('When a problem is thrown, then one that no operation declares, or that lacks its required header, does not compile', () => {
    // @ts-expect-error 418 is no status of any operation
    void new ApiProblem({ status: 418, code: 'rate_limited' });
    // @ts-expect-error no operation answers a 401 with rate_limited
    void new ApiProblem({ status: 401, code: 'rate_limited', headers: { 'WWW-Authenticate': 'ApiKey' } });
    // @ts-expect-error a 401 carries its challenge
    void new ApiProblem<ProblemOf<'refreshSession'>>({ status: 401, code: 'session_expired' });
    // @ts-expect-error refresh does not answer invalid_access_token
    void new ApiProblem<ProblemOf<'refreshSession'>>({ status: 401, code: 'invalid_access_token', headers: { 'WWW-Authenticate': 'Bearer' } });
    void new ApiProblem<ProblemOf<'refreshSession'>>({ status: 401, code: 'session_expired', headers: { 'WWW-Authenticate': 'ApiKey' } });
    // A throw site serving two operations may throw only what both declare.
    // @ts-expect-error listProviders declares no redirect_uri_not_allowed
    void new ApiProblem<ProblemOf<'startOidcLogin' | 'listProviders'>>({ status: 400, code: 'redirect_uri_not_allowed' });
    void new ApiProblem<ProblemOf<'startOidcLogin' | 'listProviders'>>({ status: 400, code: 'unknown_tenant' });
  });

  test('When a handler returns a problem body, then its status and code must be the declared ones', () => {
    const problem = { type: 'x', title: 'x', instance: '/v1/refresh', request_id: 'r' };
    ({ status: 401, body: { ...problem, status: 401, code: 'session_expired' }, headers: { 'WWW-Authenticate': 'ApiKey' } }) satisfies RefreshSessionResult;
    // @ts-expect-error a 401 whose body says 500
    ({ status: 401, body: { ...problem, status: 500, code: 'internal_error' }, headers: { 'WWW-Authenticate': 'ApiKey' } }) satisfies RefreshSessionResult;
    // @ts-expect-error a 401 with a code of another status
    ({ status: 401, body: { ...problem, status: 401, code: 'rate_limited' }, headers: { 'WWW-Authenticate': 'ApiKey' } }) satisfies RefreshSessionResult;
  });

  test('When a handler adds a body field or a header the contract does not declare, then it does not compile where the answer is typed', () => {
    const grant = {} as api.SessionGrant;
    // TypeScript checks for excess fields where an object literal meets a declared type: a declared return type,
    // a typed variable or argument. (A handler's inferred return is checked for shape, not for excess; there the
    // closed schemas of the contract refuse extra fields at run time, in development and tests.)
    const refresh = async (): Promise<RefreshSessionResult> => ({
      status: 200,
      // @ts-expect-error id_token is not part of a grant
      body: { ...grant, id_token: 'x' },
    });
    void refresh;
    // @ts-expect-error X-Debug is not a header getHealth declares
    ({ status: 200, body: { status: 'ok' }, headers: { 'X-Debug': '1' } }) satisfies GetHealthResult;
    // @ts-expect-error header names are spelled as declared
    ({ status: 200, body: grant, headers: { 'cache-control': 'no-store' } }) satisfies RefreshSessionResult;
  });
});
