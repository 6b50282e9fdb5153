import { Migrator, sql, type Kysely, type Migration, type MigrationProvider } from 'kysely';

/**
 * Forward-only migrations. A migration, once released, is never edited:
 * add a new one. The same definitions run on every dialect Kysely speaks.
 */
const migrations: Record<string, Migration> = {
  '0001_initial': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('users')
        .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('tenant_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('issuer', 'text', (c) => c.notNull())
        .addColumn('subject', 'varchar(255)', (c) => c.notNull())
        .addColumn('email', 'text')
        .addColumn('email_verified', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('name', 'text')
        .addColumn('picture', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addUniqueConstraint('users_identity', ['tenant_id', 'issuer', 'subject'])
        .execute();

      await db.schema
        .createTable('login_states')
        .addColumn('state_hash', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('tenant_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('provider_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('redirect_uri', 'text', (c) => c.notNull())
        .addColumn('pkce_verifier', 'varchar(128)', (c) => c.notNull())
        .addColumn('nonce', 'varchar(128)', (c) => c.notNull())
        .addColumn('code_challenge', 'varchar(128)')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .addColumn('consumed_at', 'bigint')
        .execute();
      await db.schema.createIndex('login_states_expiry').on('login_states').column('expires_at').execute();

      await db.schema
        .createTable('sessions')
        .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('tenant_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('user_id', 'varchar(64)', (c) => c.notNull().references('users.id'))
        .addColumn('provider_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('last_refreshed_at', 'bigint', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .addColumn('idle_expires_at', 'bigint', (c) => c.notNull())
        .addColumn('revoked_at', 'bigint')
        .addColumn('revoked_reason', 'varchar(64)')
        .execute();
      await db.schema
        .createIndex('sessions_by_user')
        .on('sessions')
        .columns(['tenant_id', 'user_id', 'created_at', 'id'])
        .execute();

      await db.schema
        .createTable('refresh_tokens')
        .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('tenant_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('session_id', 'varchar(64)', (c) => c.notNull().references('sessions.id'))
        .addColumn('token_hash', 'varchar(64)', (c) => c.notNull().unique())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('retired_at', 'bigint')
        .addColumn('replaced_by', 'varchar(64)')
        .addColumn('grace_grant', 'text')
        .addColumn('grace_expires_at', 'bigint')
        .execute();
      await db.schema.createIndex('refresh_tokens_by_session').on('refresh_tokens').column('session_id').execute();
      // Grace grants are swept as soon as their window closes: only the few that hold one are indexed.
      await db.schema
        .createIndex('refresh_tokens_grace_expiry')
        .on('refresh_tokens')
        .column('grace_expires_at')
        .where(sql.ref('grace_grant'), 'is not', null)
        .execute();

      await db.schema
        .createTable('idempotency_records')
        .addColumn('tenant_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('operation', 'varchar(64)', (c) => c.notNull())
        .addColumn('idempotency_key', 'varchar(255)', (c) => c.notNull())
        .addColumn('fingerprint', 'varchar(64)', (c) => c.notNull())
        .addColumn('status', 'varchar(16)', (c) => c.notNull())
        .addColumn('response_status', 'integer')
        .addColumn('response', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .addColumn('locked_until', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('idempotency_records_pk', ['tenant_id', 'operation', 'idempotency_key'])
        .execute();
      await db.schema.createIndex('idempotency_records_expiry').on('idempotency_records').column('expires_at').execute();
    },
  },
  '0002_idempotency_subject': {
    // Keys were scoped to the tenant; they are now scoped to what only the caller holds. Records live
    // 24 hours: the old ones are kept, under their tenant as the subject, until they expire. Each step
    // checks what is already done, so that a start interrupted half-way finishes the next time.
    async up(db: Kysely<any>) {
      const tables = async () => new Map((await db.introspection.getTables()).map((table) => [table.name, table]));
      let existing = await tables();
      await db.schema
        .createTable('idempotency_records_v2')
        .ifNotExists()
        .addColumn('tenant_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('operation', 'varchar(64)', (c) => c.notNull())
        .addColumn('subject', 'varchar(128)', (c) => c.notNull())
        .addColumn('idempotency_key', 'varchar(255)', (c) => c.notNull())
        .addColumn('fingerprint', 'varchar(64)', (c) => c.notNull())
        .addColumn('status', 'varchar(16)', (c) => c.notNull())
        .addColumn('response_status', 'integer')
        .addColumn('response', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .addColumn('locked_until', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('idempotency_records_v2_pk', ['operation', 'subject', 'idempotency_key'])
        .execute();
      const old = existing.get('idempotency_records');
      if (old && !old.columns.some((column) => column.name === 'subject')) {
        await sql`
          insert into idempotency_records_v2
            (tenant_id, operation, subject, idempotency_key, fingerprint, status, response_status, response, created_at, expires_at, locked_until)
          select tenant_id, operation, tenant_id, idempotency_key, fingerprint, status, response_status, response, created_at, expires_at, locked_until
          from idempotency_records where true
          on conflict do nothing`.execute(db);
        await db.schema.dropTable('idempotency_records').execute();
      }
      existing = await tables();
      if (!existing.has('idempotency_records')) await db.schema.alterTable('idempotency_records_v2').renameTo('idempotency_records').execute();
      await db.schema.createIndex('idempotency_records_expiry_v2').ifNotExists().on('idempotency_records').column('expires_at').execute();
    },
  },
  '0003_stored_refusals': {
    // Answers stored before 401s carried their WWW-Authenticate challenge, and before refusals that mean
    // "not now" stopped being stored: a retry with their key runs again instead of replaying them.
    async up(db: Kysely<any>) {
      await db.deleteFrom('idempotency_records').where('status', '=', 'completed').where('response_status', 'in', [401, 408, 409, 425, 429]).execute();
    },
  },
  '0004_server_keys': {
    // Keys in the database, so that every instance signs, verifies, seals and opens alike; and the
    // shared rate-limit counters (rate-limiter-flexible's table, used when the store is PostgreSQL).
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('server_keys')
        .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('kind', 'varchar(16)', (c) => c.notNull())
        // 1 for the first key of its kind, then one more per rotation: two instances that create the
        // first keys at once, or two rotations at once, cannot both succeed.
        .addColumn('generation', 'integer', (c) => c.notNull())
        // The private key, sealed under AUTH_KEY_ENCRYPTION_SECRET when it is set.
        .addColumn('material', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        // Published (JWKS) from creation, used to sign and seal from this time on.
        .addColumn('activates_at', 'bigint', (c) => c.notNull())
        .addUniqueConstraint('server_keys_generation', ['kind', 'generation'])
        .execute();
      await db.schema
        .createTable('rate_limits')
        .addColumn('key', 'varchar(255)', (c) => c.primaryKey())
        .addColumn('points', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('expire', 'bigint')
        .execute();
    },
  },
  '0005_audit_events': {
    // Read newest first per tenant, a page at a time (tenant_id, at, id); swept past retention by `at`. A login
    // state records when the provider first sent the browser back, so that a login is audited once per state.
    async up(db: Kysely<any>) {
      await db.schema.alterTable('login_states').addColumn('returned_at', 'bigint').execute();
      await db.schema
        .createTable('audit_events')
        .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('tenant_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('type', 'varchar(32)', (c) => c.notNull())
        .addColumn('at', 'bigint', (c) => c.notNull())
        .addColumn('request_id', 'varchar(128)')
        .addColumn('session_id', 'varchar(64)')
        .addColumn('user_id', 'varchar(64)')
        .addColumn('client_address', 'varchar(64)')
        .execute();
      await db.schema.createIndex('audit_events_by_tenant').on('audit_events').columns(['tenant_id', 'at', 'id']).execute();
      await db.schema.createIndex('audit_events_retention').on('audit_events').column('at').execute();
    },
  },
  '0006_audit_counts': {
    // Repeated refusals are counted in one row per minute, not written each; the request id is the server's own,
    // and the one the client chose is kept apart from it.
    async up(db: Kysely<any>) {
      await db.schema.alterTable('audit_events').addColumn('count', 'integer', (c) => c.notNull().defaultTo(1)).execute();
      await db.schema.alterTable('audit_events').addColumn('client_request_id', 'varchar(128)').execute();
    },
  },
  '0007_retired_keys': {
    // A signing key retired at once (`pnpm rotate-keys --retire`), when it leaked: its row stays, so that its
    // generation is never given again, but it is neither published nor trusted, and its material is erased.
    async up(db: Kysely<any>) {
      await db.schema.alterTable('server_keys').addColumn('retired_at', 'bigint').execute();
    },
  },
  '0008_storage_probe': {
    // One row that readiness writes, while the storage refused a write, to learn whether it takes writes again.
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('storage_probe')
        .addColumn('id', 'integer', (c) => c.primaryKey())
        .addColumn('written_at', 'bigint', (c) => c.notNull())
        .addColumn('filler', 'text', (c) => c.notNull())
        .execute();
    },
  },
  '0009_provider_logout': {
    // Signing out at the provider (RP-Initiated Logout) needs the session's ID token, kept sealed in a table of
    // its own so that the session reads on every request stay small; the provider's back-channel logout names a
    // session by the provider's `sid`, and its tokens are single-use across instances (their `jti` kept until
    // they could no longer be accepted).
    async up(db: Kysely<any>) {
      await db.schema.alterTable('sessions').addColumn('provider_sid', 'varchar(255)').execute();
      await db.schema.createIndex('sessions_by_provider_sid').on('sessions').columns(['tenant_id', 'provider_id', 'provider_sid']).execute();
      await db.schema
        .createTable('session_id_tokens')
        .addColumn('session_id', 'varchar(64)', (c) => c.primaryKey().references('sessions.id'))
        .addColumn('tenant_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('id_token', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('logout_token_jtis')
        .addColumn('tenant_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('provider_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('jti', 'varchar(255)', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('logout_token_jtis_pk', ['tenant_id', 'provider_id', 'jti'])
        .execute();
      await db.schema.createIndex('logout_token_jtis_expiry').on('logout_token_jtis').column('expires_at').execute();
    },
  },
  '0010_login_state_name': {
    // Apple names the user once, in the callback, while the code is exchanged later: the name waits with the login.
    async up(db: Kysely<any>) {
      await db.schema.alterTable('login_states').addColumn('name', 'text').execute();
    },
  },
};

export const migrationProvider: MigrationProvider = {
  getMigrations: async () => migrations,
};

const MIGRATION_TABLE = 'kysely_migration';

/** A schema this release cannot serve: newer than it knows, or older when it may not migrate. */
export class SchemaMismatchError extends Error {
  override name = 'SchemaMismatchError';
}

/**
 * Refuses a schema this release cannot serve: one that ran a migration it
 * does not know (a newer release migrated it), or, when it may not migrate,
 * one that lacks a migration it needs.
 */
export async function checkSchema(db: Kysely<any>, mayMigrate: boolean): Promise<void> {
  const tables = await db.introspection.getTables({ withInternalKyselyTables: true });
  const applied: string[] = tables.some((table) => table.name === MIGRATION_TABLE)
    ? (await db.selectFrom(MIGRATION_TABLE).select('name').execute()).map((row: { name: string }) => row.name)
    : [];
  const unknown = applied.filter((name) => !(name in migrations));
  if (unknown.length > 0) {
    throw new SchemaMismatchError(
      `The database schema is newer than this release: it ran ${unknown.join(', ')}, which this release does not know. Run a release that knows it.`,
    );
  }
  const pending = Object.keys(migrations).filter((name) => !applied.includes(name));
  if (!mayMigrate && pending.length > 0) {
    throw new SchemaMismatchError(`The database schema lacks ${pending.join(', ')}: run \`pnpm migrate\` first.`);
  }
}

/** Applies every pending migration, in one transaction where the dialect allows, under the migrator's lock. */
export async function migrate(db: Kysely<any>): Promise<string[]> {
  const { error, results } = await new Migrator({ db, provider: migrationProvider }).migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName;
    // Stryker disable next-line StringLiteral: the migrator always names the migration that failed; '' is a fallback for its contract
    throw new Error(`Database migration ${failed ?? ''} failed`, { cause: error });
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
