import type { Request } from 'express';
import { tenantMissing, tenantNamesDiffer } from '../problems.js';
import type { TenantConfig } from '../tenants/tenant.js';
import type { TenantRegistry } from '../tenants/tenant-registry.js';

/**
 * The tenant a request names: by `X-Tenant-Id`, or by the `tenant` query
 * parameter for a link or navigation that cannot send a header. The server
 * reads either here and nowhere else. One rule holds for every operation:
 * either may name the tenant, and when both are sent they must name the
 * same one. A disagreement is never settled for the caller by picking one:
 * an operation that needs the tenant refuses it, a label names neither,
 * and the origin rules hold the request to both.
 *
 * Which operation takes which is the contract's to say: its validator
 * refuses a `tenant` parameter, or a missing `X-Tenant-Id`, where the
 * operation declares so, before any handler asks. CORS and the origin check
 * run before validation, and count every tenant named.
 */
export class RequestTenant {
  /** The distinct ids named, the header's first: none, one, or two that differ. */
  readonly #ids: string[];

  private constructor(
    header: string | undefined,
    query: string | undefined,
    private readonly tenants: TenantRegistry,
  ) {
    this.#ids = [...new Set([header, query].filter((id) => id !== undefined))];
  }

  static of(req: Request, tenants: TenantRegistry): RequestTenant {
    const query = req.query.tenant;
    // A repeated parameter (`?tenant=a&tenant=b`) names no tenant here; the contract's validator refuses it.
    return new RequestTenant(req.get('x-tenant-id'), typeof query === 'string' ? query : undefined, tenants);
  }

  /** The tenant id the request names, if any; 400 `invalid_request` at `query.tenant` when the header and the query differ. */
  requireUnambiguousId(): string | undefined {
    if (this.#ids.length > 1) throw tenantNamesDiffer();
    return this.#ids[0];
  }

  /**
   * The tenant the request names; 400 `invalid_request` when it names none
   * (at `headers.x-tenant-id`) or two (at `query.tenant`), 400
   * `unknown_tenant` when no tenant has the id.
   */
  require(): TenantConfig {
    const id = this.requireUnambiguousId();
    if (id === undefined) throw tenantMissing();
    return this.tenants.require(id);
  }

  /** The configured tenant the request names; undefined when it names none, an unknown one, or two that differ. */
  find(): TenantConfig | undefined {
    return this.#ids.length === 1 ? this.tenants.find(this.#ids[0]!) : undefined;
  }

  /** Every configured tenant the request names: both when the header and the query differ. Unknown ids name none. */
  findAll(): TenantConfig[] {
    return this.#ids.flatMap((id) => this.tenants.find(id) ?? []);
  }
}
