import { describe, expectTypeOf, test } from 'vitest';
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
    ({ status: 302, headers: { Location: 'https://idp.test/authorize' } }) satisfies StartOidcLoginResult;
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
});
