import type * as api from '@aimable/auth-openapi';
import { createClient, createConfig, type Client } from '@aimable/auth-openapi/fetch-client';
import * as sdk from '@aimable/auth-openapi/sdk';
import { AuthApiError } from './errors.js';

export { AuthApiError, isAuthApiError, type AuthErrorCode, type AuthErrorCodeOf, type OperationId } from './errors.js';
export type * from '@aimable/auth-openapi';

type MaybePromise<T> = T | Promise<T>;

export interface AuthClientOptions {
  /** Base URL of the API, for example `http://localhost:8080`. */
  baseUrl: string;
  /** Sent as `X-Tenant-Id` on every operation that takes it. */
  tenantId?: string;
  /** Sent as `X-API-Key` on the operations secured by it (refresh). */
  apiKey?: string;
  /** The bearer access token, or a function that returns the current one. */
  accessToken?: string | (() => MaybePromise<string | undefined>);
  /** Fetch implementation. Default: `globalThis.fetch`. */
  fetch?: typeof fetch;
  /**
   * Whether browsers send and store cookies (the refresh cookie) on
   * cross-origin calls. Default: `include`.
   */
  credentials?: RequestCredentials;
  /** Extra headers sent with every request. */
  headers?: Record<string, string>;
}

type InjectedHeader = 'X-Tenant-Id';
type HeadersOf<TData> = TData extends { headers: infer H } ? H : TData extends { headers?: infer H } ? H : never;
type CallerHeaders<TData> = Omit<NonNullable<HeadersOf<TData>>, InjectedHeader> & { 'X-Tenant-Id'?: string };
type HeaderOption<TData> = [NonNullable<HeadersOf<TData>>] extends [never]
  ? { headers?: Record<string, string> }
  : {} extends Omit<NonNullable<HeadersOf<TData>>, InjectedHeader>
    ? { headers?: CallerHeaders<TData> }
    : { headers: CallerHeaders<TData> };
type InputOf<TData> = {
  [K in keyof TData as K extends 'url' | 'headers' ? never : [NonNullable<TData[K]>] extends [never] ? never : K]: TData[K];
};

/**
 * What a call takes: the operation's typed `path`, `query`, `body` and
 * `headers` (minus the ones the client sets), plus fetch's `signal` and
 * `redirect`.
 */
export type CallOptions<TData> = InputOf<TData> &
  HeaderOption<TData> & {
    signal?: AbortSignal;
    /** `manual` returns a 3xx answer (with its `Location`) instead of following it. */
    redirect?: RequestRedirect;
  };

/** A successful answer: the typed body of a 2xx (undefined for a 3xx) and the raw response. */
export interface CallResult<TData> {
  data: TData;
  response: Response;
}

type BodyOf<TResponses> = [TResponses] extends [never] ? undefined : TResponses[keyof TResponses];
type Operation<TData, TResponses> = (options: CallOptions<TData>) => Promise<CallResult<BodyOf<TResponses>>>;

export interface AuthClient {
  /** The underlying generated fetch client, for interceptors. */
  readonly client: Client;
  /** Replaces the bearer access token used by the session operations. */
  setAccessToken(token: string | undefined): void;
  /**
   * The URL of the start operation for a link or a navigation, which cannot
   * send `X-Tenant-Id`: the client's tenant goes in the `tenant` query
   * parameter. Following it answers the `302` to the provider.
   */
  startOidcLoginUrl(options: { path: api.StartOidcLoginData['path']; query: Omit<api.StartOidcLoginData['query'], 'tenant'> }): string;
  startOidcLogin: Operation<api.StartOidcLoginData, api.StartOidcLoginResponses>;
  handleOidcCallback: Operation<api.HandleOidcCallbackData, never>;
  /** What an identity provider posts, through the browser: a client of the API has no use for it. */
  receiveOidcFormPost: Operation<api.ReceiveOidcFormPostData, never>;
  /** What an identity provider calls, server to server: a client of the API has no use for it. */
  backchannelLogout: Operation<api.BackchannelLogoutData, api.BackchannelLogoutResponses>;
  createSession: Operation<api.CreateSessionData, api.CreateSessionResponses>;
  refreshSession: Operation<api.RefreshSessionData, api.RefreshSessionResponses>;
  getCurrentSession: Operation<api.GetCurrentSessionData, api.GetCurrentSessionResponses>;
  logout: Operation<api.LogoutData, api.LogoutResponses>;
  listSessions: Operation<api.ListSessionsData, api.ListSessionsResponses>;
  revokeSession: Operation<api.RevokeSessionData, api.RevokeSessionResponses>;
  listProviders: Operation<api.ListProvidersData, api.ListProvidersResponses>;
  listAuditEvents: Operation<api.ListAuditEventsData, api.ListAuditEventsResponses>;
  getJwks: Operation<api.GetJwksData, api.GetJwksResponses>;
  getHealth: Operation<api.GetHealthData, api.GetHealthResponses>;
  getReadiness: Operation<api.GetReadinessData, api.GetReadinessResponses>;
  getOpenApiDocument: Operation<api.GetOpenApiDocumentData, api.GetOpenApiDocumentResponses>;
  getApiReference: Operation<api.GetApiReferenceData, api.GetApiReferenceResponses>;
  getApiReferenceScript: Operation<api.GetApiReferenceScriptData, api.GetApiReferenceScriptResponses>;
}

// Every generated operation must be exposed: a new operation in the
// contract fails to compile here until it is added to `AuthClient`.
type OperationName = Exclude<keyof AuthClient, 'client' | 'setAccessToken' | 'startOidcLoginUrl'>;
const operations: { [K in OperationName]: (typeof sdk)[K] } & { [K in Exclude<keyof typeof sdk, OperationName>]: never } = sdk;

/**
 * Creates a client of the Aimable Auth API. It sets `X-Tenant-Id`,
 * `X-API-Key` and the bearer token, asks for JSON (so the start operation
 * answers its JSON variant), and throws {@link AuthApiError} for every
 * problem answer.
 */
export function createAuthClient(options: AuthClientOptions): AuthClient {
  let accessToken = options.accessToken;
  const client = createClient(
    createConfig({
      baseUrl: options.baseUrl,
      fetch: options.fetch,
      credentials: options.credentials ?? 'include',
      headers: {
        // JSON first (start answers its JSON variant); other media types only for the operations that answer nothing else.
        Accept: 'application/json, application/problem+json, */*;q=0.1',
        ...(options.tenantId === undefined ? {} : { 'X-Tenant-Id': options.tenantId }),
        ...options.headers,
      },
      auth: async (auth) => {
        if (auth.type === 'apiKey') return options.apiKey;
        return typeof accessToken === 'function' ? await accessToken() : accessToken;
      },
    }),
  );

  const bind =
    (name: OperationName, operation: (options: never) => Promise<unknown>) =>
    async (callOptions: object): Promise<CallResult<unknown>> => {
      let result: { data?: unknown; error?: unknown; response?: Response };
      try {
        result = (await operation({ ...callOptions, client, throwOnError: false } as never)) as typeof result;
      } catch (cause) {
        throw new AuthApiError(undefined, undefined, name, cause);
      }
      const { response } = result;
      if (!response) throw new AuthApiError(undefined, undefined, name, result.error);
      if (response.status >= 300 && response.status < 400) return { data: undefined, response };
      if (!response.ok) throw new AuthApiError(response, result.error, name);
      return { data: result.data, response };
    };

  const bound = Object.fromEntries(
    Object.entries(operations).map(([name, operation]) => [name, bind(name as OperationName, operation as never)]),
  ) as unknown as Omit<AuthClient, 'client' | 'setAccessToken' | 'startOidcLoginUrl'>;

  return {
    ...bound,
    client,
    setAccessToken(token) {
      accessToken = token;
    },
    startOidcLoginUrl({ path, query }) {
      const url = new URL(`${options.baseUrl.replace(/\/+$/, '')}/v1/auth/oidc/${encodeURIComponent(path.provider)}/start`);
      if (options.tenantId !== undefined) url.searchParams.set('tenant', options.tenantId);
      for (const [name, value] of Object.entries(query)) if (value !== undefined) url.searchParams.set(name, String(value));
      return url.href;
    },
  };
}

export { createAuth, SignInError, browserSessionStorage, memoryStorage, type Auth, type AuthEvent, type AuthListener, type AuthOptions, type AuthSession, type AuthStorage, type SignOutOptions, type SignOutResult } from './auth.js';
