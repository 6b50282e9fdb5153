/**
 * What is known of well-known OpenID Connect providers: where their issuer
 * is, and what shape it has. A preset fills in the issuer where there is
 * only one, and refuses one that cannot be right, at startup: discovery
 * would otherwise fail at the first login with a less helpful message.
 */
export const OIDC_PRESETS = ['google', 'gitlab', 'okta', 'auth0', 'keycloak'] as const;
export type OidcPresetName = (typeof OIDC_PRESETS)[number];

export interface OidcPreset {
  /** The issuer when the tenants file names none. */
  defaultIssuer?: string;
  /** The issuer after its `https://` (or `http://`): the raw text, since a URL parser would add or drop a trailing slash. */
  shape: RegExp;
  /** What the issuer must look like, for the error. */
  looksLike: string;
  /** Why an issuer of the wrong shape is wrong, where a common mistake explains it. */
  diagnose?: (issuer: string) => string | undefined;
}

const HOST = '[^/?#\\s]+';
const SEGMENT = '[^/?#\\s]+';

export const PRESETS: Record<OidcPresetName, OidcPreset> = {
  google: {
    defaultIssuer: 'https://accounts.google.com',
    shape: /^accounts\.google\.com$/,
    looksLike: 'https://accounts.google.com',
  },
  gitlab: {
    defaultIssuer: 'https://gitlab.com',
    // A self-managed instance may live under a path (https://acme.com/gitlab); its issuer has no trailing slash.
    shape: new RegExp(`^${HOST}(/${SEGMENT})*$`),
    looksLike: 'https://gitlab.com or https://{your-gitlab-host}, without a trailing slash',
  },
  okta: {
    shape: new RegExp(`^${HOST}(/oauth2/${SEGMENT})?$`),
    looksLike: 'https://{your-okta-domain} or https://{your-okta-domain}/oauth2/{authorization-server-id}',
  },
  auth0: {
    shape: new RegExp(`^${HOST}/$`),
    looksLike: 'https://{tenant}.{region}.auth0.com/ (or your custom domain), with the trailing slash',
    // The classic misconfiguration: the tenant's URL as the dashboard shows it, without the slash its tokens carry.
    diagnose: (issuer) =>
      new RegExp(`^https?://${HOST}$`).test(issuer)
        ? `must end with a slash for preset auth0: Auth0's issuer is ${issuer}/, and its discovery document and ID tokens would not match ${issuer}`
        : undefined,
  },
  keycloak: {
    // Keycloak before 17 served realms under /auth: any path before /realms is accepted.
    shape: new RegExp(`^${HOST}(/${SEGMENT})*/realms/${SEGMENT}$`),
    looksLike: 'https://{host}/realms/{realm}',
  },
};

/** Why `issuer` cannot be the issuer of `preset`, or undefined if it can. */
export function presetIssuerProblem(presetName: OidcPresetName, issuer: string): string | undefined {
  const preset = PRESETS[presetName];
  if (preset.shape.test(issuer.replace(/^https?:\/\//, ''))) return undefined;
  return preset.diagnose?.(issuer) ?? `must look like ${preset.looksLike} for preset ${presetName}`;
}

export function isOidcPreset(value: unknown): value is OidcPresetName {
  return (OIDC_PRESETS as readonly unknown[]).includes(value);
}
