#!/usr/bin/env node
import { CLI_USAGE, readCliConfig } from './cli/cli-config.js';
import { startDevIdp } from './server.js';
import { TEST_USERS } from './users.js';

async function main(): Promise<void> {
  const config = readCliConfig(process.argv.slice(2), process.env);
  if (config.help) {
    console.log(CLI_USAGE);
    return;
  }
  const idp = await startDevIdp({
    port: config.port,
    ...(config.host !== undefined && { host: config.host }),
    ...(config.issuer !== undefined && { issuer: config.issuer }),
    clients: config.clients,
    log: (line) => console.log(line),
  });

  console.log(`\ndev-idp issuer: ${idp.issuer}`);
  console.log(`discovery:      ${idp.issuer}/.well-known/openid-configuration`);
  console.log(`clients:        ${config.clients.map((client) => client.client_id).join(', ')}`);
  console.log('test users (username / password):');
  for (const user of TEST_USERS) console.log(`  ${user.username} / ${user.password}  -> ${user.sub} <${user.email}>`);

  const shutdown = (signal: string) => {
    console.log(`${signal}: stopping dev-idp`);
    idp.close().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

main().catch((error: unknown) => {
  console.error(`dev-idp could not start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
