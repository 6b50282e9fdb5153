import type Provider from 'oidc-provider';

type Interaction = Awaited<ReturnType<Provider['interactionDetails']>>;

/**
 * Grants everything the consent prompt asks for and returns the grant id.
 *
 * The registered clients are first-party apps under development, so asking a
 * developer to click "Allow" on every login would only slow tests down. The
 * grant still records exactly the requested scopes and claims, so what the RP
 * receives matches what it asked for.
 */
export async function grantRequestedConsent(provider: Provider, interaction: Interaction): Promise<string> {
  const accountId = interaction.session?.accountId;
  if (accountId === undefined) {
    throw new Error(`consent interaction ${interaction.uid} has no signed-in account`);
  }
  const clientId = String(interaction.params['client_id']);

  const existing = interaction.grantId === undefined ? undefined : await provider.Grant.find(interaction.grantId);
  const grant = existing ?? new provider.Grant({ accountId, clientId });

  const { details } = interaction.prompt;
  const missingScopes = stringList(details['missingOIDCScope']);
  if (missingScopes.length > 0) grant.addOIDCScope(missingScopes);
  const missingClaims = stringList(details['missingOIDCClaims']);
  if (missingClaims.length > 0) grant.addOIDCClaims(missingClaims);
  const missingResourceScopes = details['missingResourceScopes'];
  if (typeof missingResourceScopes === 'object' && missingResourceScopes !== null) {
    for (const [resource, scopes] of Object.entries(missingResourceScopes)) {
      grant.addResourceScope(resource, stringList(scopes));
    }
  }

  return grant.save();
}

function stringList(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
}
