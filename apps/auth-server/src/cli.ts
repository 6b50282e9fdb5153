#!/usr/bin/env node
/**
 * `aimable-auth`, the server's command when installed from npm. Each
 * subcommand runs the entry point the repository's scripts run, unchanged:
 *
 *   aimable-auth serve                 dist/main.js        (pnpm serve)
 *   aimable-auth migrate               dist/admin.js migrate
 *   aimable-auth rotate-keys [flags]   dist/admin.js rotate-keys [flags]
 *
 * admin.js reads its command and flags from process.argv.slice(2), which here
 * already starts with the subcommand.
 */
const USAGE = `Usage: aimable-auth <command>

Commands:
  serve         run the server: the tenants of AUTH_TENANTS_FILE, sealed keys under AUTH_KEY_ENCRYPTION_SECRET
  migrate       apply pending migrations and create the first keys
  rotate-keys   add the next signing and sealing keys, or retire a leaked one (aimable-auth rotate-keys --help)

Environment: AUTH_TENANTS_FILE, AUTH_KEY_ENCRYPTION_SECRET, DATABASE_URL (PostgreSQL) or AUTH_DATA_DIR
(SQLite, default ./data), PORT, HOST, AUTH_PUBLIC_URL; see the README of @aimable/auth-server.`;

const [command, ...rest] = process.argv.slice(2);
if (command === 'serve' && rest.length === 0) {
  await import('./main.js');
} else if (command === 'migrate' || command === 'rotate-keys') {
  await import('./admin.js');
} else {
  const help = command === '--help' || command === '-h' || command === 'help' || rest.includes('--help');
  if (help || command === undefined) console.log(USAGE);
  else console.error(command === 'serve' ? `serve takes no arguments (it reads the environment)\n\n${USAGE}` : `Unknown command: ${command}\n\n${USAGE}`);
  // 64 (EX_USAGE), as admin.js exits on an unknown command.
  process.exitCode = help ? 0 : 64;
}
