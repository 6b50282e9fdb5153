import { timingSafeEqual } from 'node:crypto';
import type { ApiKeyConfig, ProviderConfig, TenantConfig } from './tenant.js';
import { sha256Hex } from '../ids.js';
import { unknownProvider, unknownTenant } from '../problems.js';

/**
 * The configured tenants: each found by its id, its providers by theirs,
 * and an API key's tenant by the key. Which tenant a request names is
 * `RequestTenant`'s to say (http/request-tenant.ts).
 */
export class TenantRegistry {
  readonly #tenants: Map<string, TenantConfig>;
  readonly #keys: { tenant: TenantConfig; key: ApiKeyConfig; hash: Buffer }[];

  constructor(tenants: TenantConfig[]) {
    this.#tenants = new Map(tenants.map((tenant) => [tenant.id, tenant]));
    this.#keys = tenants.flatMap((tenant) => tenant.apiKeyHashes.map((key) => ({ tenant, key, hash: Buffer.from(key.sha256, 'hex') })));
  }

  find(tenantId: string): TenantConfig | undefined {
    return this.#tenants.get(tenantId);
  }

  /** The tenant, or a 400 `unknown_tenant`. */
  require(tenantId: string): TenantConfig {
    const tenant = this.#tenants.get(tenantId);
    if (!tenant) throw unknownTenant(tenantId);
    return tenant;
  }

  findProvider(tenant: TenantConfig, providerId: string): ProviderConfig | undefined {
    return tenant.providers.find((p) => p.id === providerId);
  }

  /** The tenant's provider, or a 404 `unknown_provider`. */
  requireProvider(tenant: TenantConfig, providerId: string): ProviderConfig {
    const provider = this.findProvider(tenant, providerId);
    if (!provider) throw unknownProvider(providerId);
    return provider;
  }

  /**
   * The configured key an API key matches, with its tenant. Keys are stored
   * as SHA-256 hashes and every stored hash is compared in constant time, so
   * neither the match nor its position leaks through timing.
   */
  findApiKey(apiKey: string): { tenant: TenantConfig; key: ApiKeyConfig } | undefined {
    const presented = Buffer.from(sha256Hex(apiKey), 'hex');
    let match: { tenant: TenantConfig; key: ApiKeyConfig } | undefined;
    for (const entry of this.#keys) {
      if (timingSafeEqual(entry.hash, presented) && !match) match = { tenant: entry.tenant, key: entry.key };
    }
    return match;
  }

  /** Every origin any tenant allows, for CORS preflights (which carry no tenant header). */
  allOrigins(): Set<string> {
    return new Set([...this.#tenants.values()].flatMap((tenant) => tenant.corsOrigins));
  }
}
