/**
 * Operator commands, on the store the server is configured with
 * (`DATABASE_URL`, or SQLite in `AUTH_DATA_DIR`):
 *
 *   pnpm migrate       applies pending migrations and creates the first keys
 *   pnpm rotate-keys   adds the next signing and sealing keys
 *
 * Both are safe to run while servers run, and from several places at once.
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { systemClock } from './clock.js';
import { loadStorageSettings } from './config/load.js';
import { openStore } from './store/open.js';
import { KeyRing, rotateKeys, type KeyKind } from './tokens/key-ring.js';
import { readKeyFile } from './tokens/key-material.js';

/** Long enough for every instance to read the keys again (AUTH_KEY_REFRESH_SECONDS, 60 s) and for verifiers' cached JWKS (max-age 300 s) to expire. */
const DEFAULT_ACTIVATE_IN_SECONDS = 600;

const USAGE = `Usage:
  pnpm migrate
  pnpm rotate-keys [--kind signing|sealing|both] [--activate-in SECONDS]

Environment: DATABASE_URL (PostgreSQL) or AUTH_DATA_DIR (SQLite, default ./data), AUTH_KEY_ENCRYPTION_SECRET.`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: { kind: { type: 'string', default: 'both' }, 'activate-in': { type: 'string', default: String(DEFAULT_ACTIVATE_IN_SECONDS) }, help: { type: 'boolean' } },
  });
  if (values.help || (command !== 'migrate' && command !== 'rotate-keys')) {
    console.log(USAGE);
    return values.help ? 0 : 64;
  }
  const problems: string[] = [];
  const settings = loadStorageSettings(process.env, problems);
  const activateIn = Number(values['activate-in']);
  if (!Number.isInteger(activateIn) || activateIn < 0) problems.push('--activate-in must be a whole number of seconds');
  const kinds: KeyKind[] | undefined = values.kind === 'both' ? ['signing', 'sealing'] : values.kind === 'signing' || values.kind === 'sealing' ? [values.kind] : undefined;
  if (!kinds) problems.push('--kind must be signing, sealing or both');
  if (problems.length > 0) {
    console.error(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
    return 78;
  }

  const where = settings.databaseUrl ? 'PostgreSQL' : `SQLite in ${settings.dataDir}`;
  const { store } = await openStore(
    {
      databaseUrl: settings.databaseUrl,
      pool: { ...settings.pool, max: 1 },
      migrateOnStart: command === 'migrate',
      databaseFile: join(settings.dataDir, 'auth.sqlite'),
      // A running server reads what this writes: it is durable before it is committed, and before this says it is done.
      syncEachCommit: true,
    },
    {
      onConnectionError: (error) => console.error(`database connection failed: ${error.message}`),
      // Commands sync each commit, with SQLite's own checkpoints: there is no checkpoint worker to fail.
      onBackgroundError: (error) => console.error(`checkpoint failed: ${error.message}`),
    },
  );
  try {
    // The first keys, if there are none yet: from an earlier release's key file beside a SQLite database, or new.
    const keyFile = join(settings.dataDir, 'keys.json');
    const legacyKeys = settings.databaseUrl === undefined ? readKeyFile(keyFile) : undefined;
    if (legacyKeys) console.log(`${keyFile}: its keys are the database's first generation; it is no longer read, and should be deleted`);
    await KeyRing.open(store, systemClock, {
      encryptionSecret: settings.keyEncryptionSecret,
      publishOverlapMs: 0,
      refreshMs: 60_000,
      legacyKeys,
      sealPlainKeys: command === 'migrate',
    });
    if (command === 'migrate') {
      console.log(store.applied.length > 0 ? `${where}: applied ${store.applied.join(', ')}` : `${where}: the schema is up to date`);
      return 0;
    }
    if (activateIn < DEFAULT_ACTIVATE_IN_SECONDS) {
      console.error(
        `Note: with --activate-in ${activateIn}, instances sign and seal with the new keys before all of them have read them (AUTH_KEY_REFRESH_SECONDS) and before verifiers' cached JWKS (max-age 300 s) expire; use it when a key has leaked.`,
      );
    }
    const rotated = await rotateKeys(store, systemClock, { kinds: kinds!, activateInMs: activateIn * 1000, encryptionSecret: settings.keyEncryptionSecret });
    for (const key of rotated) {
      console.log(`${where}: ${key.kind} key ${key.kind === 'signing' ? `${key.id} ` : ''}generation ${key.generation}, published now, in use from ${new Date(key.activatesAt).toISOString()}`);
    }
    return 0;
  } finally {
    await store.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : String(error));
    process.exit(1);
  },
);
