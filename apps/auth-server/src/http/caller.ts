import { openApiDocument, type OperationDescriptor } from '@aimable/auth-openapi';
import type { SecurityResolvers } from '@aimable/auth-server-kit';
import type { Request } from 'express';
import type { Clock } from '../clock.js';
import type { SecurityEvents } from '../audit/security-events.js';
import { requestOrigin } from './request-context.js';
import { RequestTenant } from './request-tenant.js';
import { insufficientScope, invalidApiKey, originNotAllowed } from '../problems.js';
import type { Authenticated, SessionService } from '../sessions/session-service.js';
import type { ApiKeyConfig, TenantConfig } from '../tenants/tenant.js';
import type { TenantRegistry } from '../tenants/tenant-registry.js';
import type { AccessTokens, VerifiedAccessToken } from '../tokens/access-tokens.js';

/** A request's API key: the tenant it belongs to, and the key as configured (its id and scopes). */
export interface ApiKeyCaller {
  tenant: TenantConfig;
  key: ApiKeyConfig;
}

/** What the security step hands to handlers, per security scheme of the contract. */
export interface CallerPrincipals {
  /** The API key that came with the request, with the scope the operation requires. */
  ApiKey: ApiKeyCaller;
  /** The live session, user and tenant of the bearer access token. */
  BearerAuth: Authenticated;
}

/**
 * Who a request speaks for, worked out once per request and shared by
 * CORS, the origin check, the security step and the handlers: the tenant it
 * names (`RequestTenant`), its API key's tenant, and its access token's
 * session. Each is resolved on first use and kept.
 */
export class Caller {
  #tenant?: RequestTenant;
  #apiKey?: ApiKeyCaller | undefined;
  #apiKeyResolved = false;
  #claims?: Promise<VerifiedAccessToken | undefined>;
  #session?: Promise<Authenticated>;

  constructor(
    private readonly req: Request,
    private readonly deps: CallerDependencies,
  ) {}

  /** The tenant the request names by `X-Tenant-Id` or the `tenant` query parameter. */
  tenant(): RequestTenant {
    this.#tenant ??= RequestTenant.of(this.req, this.deps.tenants);
    return this.#tenant;
  }

  /** The request's API key and its tenant; undefined when it has none or an unknown one. */
  apiKey(): ApiKeyCaller | undefined {
    if (!this.#apiKeyResolved) {
      const key = this.req.get('x-api-key');
      this.#apiKey = key ? this.deps.tenants.findApiKey(key) : undefined;
      this.#apiKeyResolved = true;
    }
    return this.#apiKey;
  }

  /** The tenant of the request's API key; undefined when it has none or an unknown one. */
  apiKeyTenant(): TenantConfig | undefined {
    return this.apiKey()?.tenant;
  }

  /** The tenant the request names, or else its API key's; no token is verified for it: for labelling refusals. */
  namedOrApiKeyTenant(): TenantConfig | undefined {
    return this.tenant().find() ?? this.apiKeyTenant();
  }

  /** The verified claims of the bearer access token; undefined when it has none, or one that is invalid or expired. */
  bearerClaims(): Promise<VerifiedAccessToken | undefined> {
    this.#claims ??= (async () => {
      // Stryker disable next-line StringLiteral: without an Authorization header any text but "Bearer <token>" means no token, as '' does
      const token = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/i.exec(this.req.get('authorization') ?? '')?.[1];
      return token ? this.deps.accessTokens.verify(token, this.deps.clock.now()) : undefined;
    })();
    return this.#claims;
  }

  /** The live session of the bearer access token, or 401 `invalid_access_token`. */
  requireSession(): Promise<Authenticated> {
    this.#session ??= this.bearerClaims().then((claims) => this.deps.sessions.authenticate(claims));
    return this.#session;
  }

  /**
   * The tenants the request speaks for, as far as its credentials prove
   * them: every tenant it names that exists (both, when its header and
   * query differ), the API key's, the verified access token's. Unknown
   * names and invalid credentials prove nothing; the operation refuses
   * them itself.
   */
  async tenantsSpokenFor(): Promise<TenantConfig[]> {
    const tenants: (TenantConfig | undefined)[] = this.tenant().findAll();
    tenants.push(this.apiKeyTenant());
    const claims = await this.bearerClaims();
    if (claims) tenants.push(this.deps.tenants.find(claims.tenantId));
    return tenants.filter((tenant): tenant is TenantConfig => tenant !== undefined);
  }

  /** The request's `Origin`, when a browser sent one. */
  get origin(): string | undefined {
    return this.req.get('origin');
  }

  /**
   * Whether the request's origin may act for, and read the answers of,
   * every tenant it speaks for. A request without `Origin` is not a
   * browser's cross-origin call and has no origin to judge. One that
   * speaks for no tenant yet may come from any tenant's origin.
   */
  originAllowedBy(tenants: TenantConfig[]): boolean {
    const origin = this.origin;
    if (origin === undefined) return true;
    return tenants.length === 0 ? this.deps.anyTenantOrigin.has(origin) : tenants.every((tenant) => tenant.corsOrigins.includes(origin));
  }

  /** 403 `origin_not_allowed` unless the origin is allowed by every tenant given. */
  assertOriginAllowedBy(tenants: TenantConfig[]): void {
    if (!this.originAllowedBy(tenants)) throw originNotAllowed(this.origin);
  }
}

export interface CallerDependencies {
  tenants: TenantRegistry;
  accessTokens: AccessTokens;
  sessions: SessionService;
  clock: Clock;
  /** Told of refused API keys. */
  events?: Pick<SecurityEvents, 'unknownApiKey' | 'apiKeyOutOfScope'>;
  anyTenantOrigin: ReadonlySet<string>;
}

/** The one resolution of each request's caller. */
export class Callers {
  readonly #resolved = new WeakMap<Request, Caller>();
  readonly #deps: CallerDependencies;

  constructor(deps: Omit<CallerDependencies, 'anyTenantOrigin'>) {
    this.#deps = { ...deps, anyTenantOrigin: deps.tenants.allOrigins() };
  }

  of(req: Request): Caller {
    let caller = this.#resolved.get(req);
    if (!caller) {
      caller = new Caller(req, this.#deps);
      this.#resolved.set(req, caller);
    }
    return caller;
  }

  /** The security step of the contract's schemes, reading the same resolution. */
  resolvers(): SecurityResolvers<CallerPrincipals> {
    return {
      ApiKey: async ({ req, operation }) => {
        const caller = this.of(req).apiKey();
        if (!caller) {
          this.#deps.events?.unknownApiKey(requestOrigin(req, req.res!));
          throw invalidApiKey();
        }
        const missing = requiredApiKeyScopes(operation).find((scope) => !(caller.key.scopes as string[]).includes(scope));
        if (missing !== undefined) {
          await this.#deps.events?.apiKeyOutOfScope(caller.tenant.id, caller.key.id, missing, requestOrigin(req, req.res!));
          throw insufficientScope(missing);
        }
        return caller;
      },
      BearerAuth: ({ req }) => this.of(req).requireSession(),
    };
  }
}

/**
 * The scopes an operation's `ApiKey` requirement lists in the contract
 * (`security: [{ ApiKey: [refresh] }]`): the contract says what each
 * operation needs, and the key's configured scopes must hold them all.
 */
export function requiredApiKeyScopes(operation: Pick<OperationDescriptor, 'path' | 'method'>): string[] {
  const paths = (openApiDocument as { paths: Record<string, Record<string, { security?: Record<string, string[]>[] }>> }).paths;
  const requirements = paths[operation.path]?.[operation.method]?.security ?? [];
  return requirements.flatMap((requirement) => requirement.ApiKey ?? []);
}
