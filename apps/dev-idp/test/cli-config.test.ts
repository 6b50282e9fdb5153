import { describe, expect, test } from 'vitest';
import { readCliConfig } from '../src/cli/cli-config.js';

describe('the command line of aimable-dev-idp', () => {
  test('When nothing is given, then it listens on 8090 with the demo client and leaves host and issuer to startDevIdp', () => {
    expect(readCliConfig([], {})).toMatchObject({ port: 8090, host: undefined, issuer: undefined, help: false, clients: [{ client_id: 'aimable-demo' }] });
  });

  test('When flags and variables are both given, then the flags win', () => {
    const env = { DEV_IDP_PORT: '9000', DEV_IDP_HOST: '0.0.0.0', DEV_IDP_ISSUER: 'http://idp.internal:9000' };
    expect(readCliConfig([], env)).toMatchObject({ port: 9000, host: '0.0.0.0', issuer: 'http://idp.internal:9000' });
    expect(readCliConfig(['--port', '0', '--host=::1', '--issuer', 'https://idp.example'], env)).toMatchObject({ port: 0, host: '::1', issuer: 'https://idp.example' });
  });

  test('When the port is not a port or a flag is unknown, then it throws naming it', () => {
    expect(() => readCliConfig(['--port', 'eighty'], {})).toThrow('--port / DEV_IDP_PORT must be an integer between 0 and 65535, got "eighty"');
    expect(() => readCliConfig(['--prot', '1'], {})).toThrow(/--prot/);
  });
});
