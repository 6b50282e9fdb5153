import { listProviders, listSessions, refreshSession, revokeSession } from '../gen/orval/client.js';

/** A small program against the fetch client orval makes of the contract: it must compile. */
export async function refreshThenListThenRevoke(apiKey: string, refreshToken: string): Promise<string | undefined> {
  const refreshed = await refreshSession({ refresh_token: refreshToken }, { headers: { 'X-API-Key': apiKey } });
  if (refreshed.status !== 200) return refreshed.data.code;
  const authorization = { headers: { Authorization: `Bearer ${refreshed.data.access_token}` } };
  const page = await listSessions({ limit: 10 }, authorization);
  if (page.status !== 200) return page.data.code;
  const other = page.data.data.find((session) => !session.current);
  if (!other) return undefined;
  const revoked = await revokeSession(other.id, authorization);
  return revoked.status === 204 ? undefined : revoked.data.code;
}

export async function providerNames(tenant: string): Promise<string[]> {
  const answer = await listProviders({ headers: { 'X-Tenant-Id': tenant } });
  if (answer.status !== 200) throw new Error(answer.data.code);
  return answer.data.data.map((provider) => provider.display_name);
}
