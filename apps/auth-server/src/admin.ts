/**
 * Operator commands, on the store the server is configured with
 * (`DATABASE_URL`, or SQLite in `AUTH_DATA_DIR`):
 *
 *   pnpm migrate                  applies pending migrations and creates the first keys
 *   pnpm rotate-keys              adds the next signing and sealing keys
 *   pnpm rotate-keys --retire ID  retires a leaked signing key at once
 *
 * Installed from npm, `aimable-auth migrate` and `aimable-auth rotate-keys` (src/cli.ts) run this file.
 *
 * Both are safe to run while servers run, and from several places at once.
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { systemClock } from './clock.js';
import { loadStorageSettings } from './config/load.js';
import { openStore } from './store/open.js';
import { KeyRetirementRefused, KeyRing, rotateKeys, type KeyKind } from './tokens/key-ring.js';
import { readKeyFile } from './tokens/key-material.js';

/** Long enough for every instance to read the keys again (AUTH_KEY_REFRESH_SECONDS, 60 s) and for verifiers' cached JWKS (max-age 300 s) to expire. */
const DEFAULT_ACTIVATE_IN_SECONDS = 600;

const USAGE = `Usage:
  pnpm migrate
  pnpm rotate-keys [--kind signing|sealing|both] [--activate-in SECONDS]
  pnpm rotate-keys --retire KID

--retire takes a leaked signing key out of the JWKS and out of verification at once (each instance drops it
at its next read of the keys, AUTH_KEY_REFRESH_SECONDS). A newer key must sign first: when the leaked key is
the one in use, run \`pnpm rotate-keys --kind signing --activate-in 0\`, then retire it.

Installed from npm (@aimable/auth-server), the same commands are \`aimable-auth migrate\` and \`aimable-auth rotate-keys\`.

Environment: DATABASE_URL (PostgreSQL) or AUTH_DATA_DIR (SQLite, default ./data), AUTH_KEY_ENCRYPTION_SECRET.`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: { kind: { type: 'string' }, 'activate-in': { type: 'string' }, retire: { type: 'string' }, help: { type: 'boolean' } },
  });
  if (values.help || (command !== 'migrate' && command !== 'rotate-keys')) {
    console.log(USAGE);
    return values.help ? 0 : 64;
  }
  const problems: string[] = [];
  const settings = loadStorageSettings(process.env, problems);
  const activateIn = Number(values['activate-in'] ?? DEFAULT_ACTIVATE_IN_SECONDS);
  if (!Number.isInteger(activateIn) || activateIn < 0) problems.push('--activate-in must be a whole number of seconds');
  const kind = values.kind ?? 'both';
  const kinds: KeyKind[] | undefined = kind === 'both' ? ['signing', 'sealing'] : kind === 'signing' || kind === 'sealing' ? [kind] : undefined;
  if (!kinds) problems.push('--kind must be signing, sealing or both');
  const retire = values.retire;
  if (retire !== undefined && (command !== 'rotate-keys' || values.kind !== undefined || values['activate-in'] !== undefined)) {
    problems.push('--retire goes alone with rotate-keys: rotate first (--kind signing --activate-in 0), then retire the old key in a second run');
  }
  if (retire === '') problems.push('--retire must name a key id (the `kid` of the JWKS)');
  if (problems.length > 0) {
    console.error(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
    return 78;
  }

  const where = settings.databaseUrl ? 'PostgreSQL' : `SQLite in ${settings.dataDir}`;
  const { store, applied } = await openStore(
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
    const ring = await KeyRing.open(store, systemClock, {
      encryptionSecret: settings.keyEncryptionSecret,
      publishOverlapMs: 0,
      refreshMs: 60_000,
      legacyKeys,
      sealPlainKeys: command === 'migrate',
    });
    if (command === 'migrate') {
      console.log(applied.length > 0 ? `${where}: applied ${applied.join(', ')}` : `${where}: the schema is up to date`);
      return 0;
    }
    if (retire !== undefined) return await retireKey(ring, where, retire);
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

/** Retires a leaked signing key; a refusal says why and exits with 65 (EX_DATAERR): the keys do not allow it. */
async function retireKey(ring: KeyRing, where: string, kid: string): Promise<number> {
  try {
    const retired = await ring.retire(kid);
    if (retired.alreadyRetired) {
      console.log(`${where}: signing key ${kid} was already retired, at ${new Date(retired.retiredAt).toISOString()}; ${retired.signingKeyId} signs`);
    } else {
      console.log(
        `${where}: signing key ${kid} (generation ${retired.generation}) retired: no longer published nor trusted, on each instance from its next read of the keys (AUTH_KEY_REFRESH_SECONDS); ${retired.signingKeyId} signs`,
      );
    }
    return 0;
  } catch (error) {
    if (!(error instanceof KeyRetirementRefused)) throw error;
    console.error(`Refused: ${error.message}`);
    return 65;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : String(error));
    process.exit(1);
  },
);
