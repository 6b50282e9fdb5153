import createClient from 'openapi-fetch';
import type { paths } from '../gen/openapi-typescript/schema.js';

/** A small program against the client openapi-typescript and openapi-fetch make of the contract: it must compile. */
const client = createClient<paths>({ baseUrl: 'http://localhost:4010' });

export async function refreshThenListThenRevoke(apiKey: string, refreshToken: string): Promise<string | undefined> {
  const refreshed = await client.POST('/v1/refresh', { params: { header: { 'X-API-Key': apiKey } as never }, body: { refresh_token: refreshToken } });
  if (refreshed.error) return refreshed.error.code;
  const authorization = { Authorization: `Bearer ${refreshed.data.access_token}` };
  const page = await client.GET('/v1/auth/sessions', { params: { query: { limit: 10 } }, headers: authorization });
  if (page.error) return page.error.code;
  const other = page.data.data.find((session) => !session.current);
  if (!other) return undefined;
  const revoked = await client.DELETE('/v1/auth/sessions/{session_id}', { params: { path: { session_id: other.id } }, headers: authorization });
  return revoked.error?.code;
}

export async function providerNames(tenant: string): Promise<string[]> {
  const { data, error } = await client.GET('/v1/auth/providers', { params: { header: { 'X-Tenant-Id': tenant } } });
  if (error) throw new Error(error.code);
  return data.data.map((provider) => provider.display_name);
}
