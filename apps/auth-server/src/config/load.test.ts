import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { loadServerConfig, parseTrustProxy } from './load.js';
import { ConfigError } from '../config-error.js';

const dir = mkdtempSync(join(tmpdir(), 'aimable-load-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const tenantsFile = join(dir, 'tenants.json');
writeFileSync(
  tenantsFile,
  JSON.stringify({
    tenants: [
      {
        id: 'acme',
        providers: { g: { display_name: 'G', issuer: 'https://accounts.google.com', client_id: 'c', client_secret_env: 'G_SECRET' } },
        redirect_uris: ['https://app.acme.example/cb'],
        api_keys: [{ id: 'k', sha256: 'a'.repeat(64) }],
      },
    ],
  }),
);

const SECRET = 'k'.repeat(32);

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadServerConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('loading the configuration from the environment', () => {
  test('When no tenants file is named, then the start is refused with a message that names AUTH_TENANTS_FILE, even under NODE_ENV=production', () => {
    expect(problemsOf({ NODE_ENV: 'production', AUTH_KEY_ENCRYPTION_SECRET: SECRET })).toEqual([
      'AUTH_TENANTS_FILE must name the tenants file (see README, "Configuration"); `pnpm start` runs the demo instead',
    ]);
  });

  test('When only the tenants file is given, then every other setting takes its documented default', () => {
    const config = loadServerConfig({ AUTH_TENANTS_FILE: tenantsFile, G_SECRET: 's', AUTH_KEY_ENCRYPTION_SECRET: SECRET });
    expect(config).toMatchObject({
      port: 8080,
      host: undefined,
      publicUrl: 'http://localhost:8080',
      accessTokenAudience: 'aimable-api',
      validateResponses: true,
      trustProxy: false,
      logLevel: 'info',
      metricsPort: undefined,
      metricsHost: '127.0.0.1',
      metricsToken: undefined,
      auditRetentionDays: 90,
      rateLimits: { start: { points: 300, globalPoints: 6000 }, session: { points: 300, globalPoints: 6000 }, refresh: { points: 1200, globalPoints: 60000 } },
    });
    expect(config.tenants.map((t) => t.id)).toEqual(['acme']);
  });

  test('When AUTH_TRUST_PROXY is true, a hop count, or proxy addresses and ranges, then each is parsed, not passed on as a string', () => {
    expect(loadServerConfig({ AUTH_TENANTS_FILE: tenantsFile, G_SECRET: 's', AUTH_KEY_ENCRYPTION_SECRET: SECRET, AUTH_TRUST_PROXY: 'true' }).trustProxy).toBe(true);
    const parse = (raw: string) => {
      const problems: string[] = [];
      return { value: parseTrustProxy(raw, problems), problems };
    };
    expect(parse('false')).toEqual({ value: false, problems: [] });
    expect(parse('2')).toEqual({ value: 2, problems: [] });
    expect(parse('loopback, 10.0.0.0/8, 2001:db8::/32, 192.0.2.7')).toEqual({ value: ['loopback', '10.0.0.0/8', '2001:db8::/32', '192.0.2.7'], problems: [] });
    expect(parse('10.0.0.0/33, proxy.internal').problems).toEqual([
      'AUTH_TRUST_PROXY must be true, false, a hop count, or addresses, CIDR ranges and loopback/linklocal/uniquelocal; not 10.0.0.0/33, proxy.internal',
    ]);
  });

  test('When the metrics listener and the audit retention are configured, then they are read', () => {
    const config = loadServerConfig({ AUTH_TENANTS_FILE: tenantsFile, G_SECRET: 's', AUTH_KEY_ENCRYPTION_SECRET: SECRET, AUTH_METRICS_PORT: '9464', AUTH_METRICS_HOST: '0.0.0.0', AUTH_METRICS_TOKEN: 't', AUTH_AUDIT_RETENTION_DAYS: '30' });
    expect(config).toMatchObject({ metricsPort: 9464, metricsHost: '0.0.0.0', metricsToken: 't', auditRetentionDays: 30 });
    expect(problemsOf({ AUTH_TENANTS_FILE: tenantsFile, G_SECRET: 's', AUTH_KEY_ENCRYPTION_SECRET: SECRET, AUTH_METRICS_PORT: '70000', AUTH_AUDIT_RETENTION_DAYS: '0' })).toEqual([
      'AUTH_METRICS_PORT must be a port number (0 to 65535)',
      'AUTH_AUDIT_RETENTION_DAYS must be an integer of at least 1',
    ]);
  });

  test('When several settings are wrong, then every problem is named at once', () => {
    expect(
      problemsOf({ AUTH_TENANTS_FILE: tenantsFile, G_SECRET: 's', AUTH_KEY_ENCRYPTION_SECRET: SECRET, PORT: 'eighty', AUTH_VALIDATE_RESPONSES: 'maybe', AUTH_RATE_LIMIT_START_GLOBAL_PER_MINUTE: '0', AUTH_PUBLIC_URL: 'auth.example' }),
    ).toEqual([
      'PORT must be an integer of at least 0',
      'AUTH_PUBLIC_URL must be an absolute http(s) URL',
      'AUTH_VALIDATE_RESPONSES must be true or false',
      'AUTH_RATE_LIMIT_START_GLOBAL_PER_MINUTE must be an integer of at least 1',
    ]);
  });
});

describe('the keys at rest', () => {
  const production = { AUTH_TENANTS_FILE: tenantsFile, G_SECRET: 's' };

  test('When the production server is given no AUTH_KEY_ENCRYPTION_SECRET, then the start is refused, naming it and the way to store keys in the clear', () => {
    expect(problemsOf(production)).toEqual([
      'AUTH_KEY_ENCRYPTION_SECRET must be set (at least 32 characters, for example `openssl rand -base64 32`): it seals the signing and sealing keys in the database. AUTH_ALLOW_PLAINTEXT_KEYS=true stores them in the clear instead',
    ]);
    expect(problemsOf({ ...production, AUTH_ALLOW_PLAINTEXT_KEYS: 'false' })).toHaveLength(1);
  });

  test('When the operator allows keys in the clear with AUTH_ALLOW_PLAINTEXT_KEYS=true, then it starts and is told to warn', () => {
    expect(loadServerConfig({ ...production, AUTH_ALLOW_PLAINTEXT_KEYS: 'true' })).toMatchObject({ keyEncryptionSecret: undefined, warnPlaintextKeys: true });
  });

  test('When the secret is set, or the entry point is the demo, then there is nothing to warn of', () => {
    expect(loadServerConfig({ ...production, AUTH_KEY_ENCRYPTION_SECRET: SECRET })).toMatchObject({ keyEncryptionSecret: SECRET, warnPlaintextKeys: false });
    expect(loadServerConfig({ ...production, AUTH_ALLOW_PLAINTEXT_KEYS: 'true', AUTH_KEY_ENCRYPTION_SECRET: SECRET }).warnPlaintextKeys).toBe(false);
    expect(loadServerConfig({ ...production }, { plaintextKeys: 'allow' })).toMatchObject({ keyEncryptionSecret: undefined, warnPlaintextKeys: false });
  });

  test('When the demo entry point runs tenants of a file without the secret, then it starts and warns', () => {
    expect(loadServerConfig({ ...production }, { plaintextKeys: 'warn' })).toMatchObject({ keyEncryptionSecret: undefined, warnPlaintextKeys: true });
  });
});
