#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { DEFAULT_MOCK_PORT, startMock } from './index.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', short: 'p', default: process.env.PORT ?? String(DEFAULT_MOCK_PORT) },
    host: { type: 'string', short: 'h', default: '127.0.0.1' },
    dynamic: { type: 'boolean', short: 'd', default: false },
  },
});

const mock = await startMock({
  port: Number(values.port),
  host: values.host,
  dynamic: values.dynamic,
  log: (line) => console.log(line),
});
console.log(`Aimable Auth mock on ${mock.url} (${values.dynamic ? 'dynamic data' : 'examples'})`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void mock.close().then(() => process.exit(0));
  });
}
