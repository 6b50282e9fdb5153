import { ApiProblem } from '@aimable/auth-server-kit';
import type { Request } from 'express';
import { describe, expect, test } from 'vitest';
import { TenantRegistry } from '../tenants/tenant-registry.js';
import { DEFAULT_SESSION_POLICY, type TenantConfig } from '../tenants/tenant.js';
import { RequestTenant } from './request-tenant.js';

const tenant = (id: string): TenantConfig => ({ id, providers: [], redirectUris: [], postLogoutRedirectUris: [], corsOrigins: [], apiKeyHashes: [], sessionPolicy: DEFAULT_SESSION_POLICY });
const alpha = tenant('alpha');
const beta = tenant('beta');
const tenants = new TenantRegistry([alpha, beta]);

function named(sent: { header?: string; query?: unknown }): RequestTenant {
  const req = { get: (name: string) => (name.toLowerCase() === 'x-tenant-id' ? sent.header : undefined), query: sent.query === undefined ? {} : { tenant: sent.query } };
  return RequestTenant.of(req as unknown as Request, tenants);
}

function refusal(run: () => unknown): { status: number; code: string; errors: unknown } {
  try {
    run();
  } catch (error) {
    if (error instanceof ApiProblem) return { status: error.status, code: error.code, errors: error.errors };
    throw error;
  }
  throw new Error('nothing was refused');
}

describe('the tenant a request names', () => {
  test('When the header or the query names a tenant, or both name the same, then that is the tenant', () => {
    for (const sent of [{ header: 'alpha' }, { query: 'alpha' }, { header: 'alpha', query: 'alpha' }]) {
      expect(named(sent).require()).toBe(alpha);
      expect(named(sent).requireUnambiguousId()).toBe('alpha');
      expect(named(sent).find()).toBe(alpha);
      expect(named(sent).findAll()).toEqual([alpha]);
    }
  });

  test('When the header and the query differ, then neither is taken: a tenant is refused at query.tenant, no label names one, the origin rules count both', () => {
    const differing = named({ header: 'alpha', query: 'beta' });
    const expected = { status: 400, code: 'invalid_request', errors: [{ location: 'query.tenant', message: 'differs from X-Tenant-Id; send one, or the same tenant in both' }] };
    expect(refusal(() => differing.require())).toEqual(expected);
    expect(refusal(() => differing.requireUnambiguousId())).toEqual(expected);
    expect(differing.find()).toBeUndefined();
    expect(differing.findAll()).toEqual([alpha, beta]);
  });

  test('When no tenant is named, then a tenant is refused at headers.x-tenant-id, and an id is undefined', () => {
    const none = named({});
    expect(refusal(() => none.require())).toEqual({
      status: 400,
      code: 'invalid_request',
      errors: [{ location: 'headers.x-tenant-id', message: 'is required (or the tenant query parameter, for links and navigations)' }],
    });
    expect(none.requireUnambiguousId()).toBeUndefined();
    expect(none.find()).toBeUndefined();
    expect(none.findAll()).toEqual([]);
  });

  test('When the tenant named does not exist, then it is refused as unknown_tenant, and found nowhere', () => {
    const unknown = named({ header: 'gamma' });
    expect(refusal(() => unknown.require())).toMatchObject({ status: 400, code: 'unknown_tenant' });
    expect(unknown.requireUnambiguousId()).toBe('gamma');
    expect(unknown.find()).toBeUndefined();
    expect(named({ header: 'gamma', query: 'alpha' }).findAll()).toEqual([alpha]);
  });

  test('When the query parameter is repeated, then it names no tenant', () => {
    expect(named({ query: ['alpha', 'beta'] }).findAll()).toEqual([]);
  });
});
