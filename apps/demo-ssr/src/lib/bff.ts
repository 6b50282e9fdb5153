import { createBff, type Bff } from '@aimable/auth-node';

/** Where the demo's auth server is and who the app is to it; `pnpm start` sets all four. */
function fromEnvironment(): Parameters<typeof createBff>[0] {
  const env = process.env;
  const missing = ['AIMABLE_AUTH_URL', 'AIMABLE_TENANT_ID', 'AIMABLE_API_KEY', 'APP_URL'].filter((name) => !env[name]);
  if (missing.length > 0) throw new Error(`Invalid configuration:\n  - ${missing.join(' and ')} must be set`);
  return { authUrl: env.AIMABLE_AUTH_URL!, tenantId: env.AIMABLE_TENANT_ID!, apiKey: env.AIMABLE_API_KEY!, appUrl: env.APP_URL! };
}

const shared = globalThis as typeof globalThis & { aimableBff?: Bff };

/**
 * The app's one BFF. Next.js may load this module once per route bundle;
 * one instance per process keeps one session store and one refresh in
 * flight per session.
 */
export function bff(): Bff {
  shared.aimableBff ??= createBff(fromEnvironment());
  return shared.aimableBff;
}
