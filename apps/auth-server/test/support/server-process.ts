/**
 * Runs the server in a process of its own, so that a test can kill it with
 * SIGKILL. The configuration comes as JSON in AUTH_TEST_CONFIG.
 */
import type { ServerConfig } from '../../src/config/server-config.js';
import { startServer } from '../../src/server.js';

const config = JSON.parse(process.env.AUTH_TEST_CONFIG ?? '') as ServerConfig;
const server = await startServer({ config, logDestination: { write: () => {} } });
process.stdout.write(`ready ${server.port}\n`);
process.on('SIGTERM', () => void server.close().then(() => process.exit(0)));
